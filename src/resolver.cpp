#include "resolver.hpp"

#include <sys/stat.h>

namespace replug {

namespace {

bool valid_segment(std::string_view segment) {
    if (segment.empty() || segment.front() == '.') return false;
    for (char c : segment) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool regular_file_exists(const std::filesystem::path& file) {
    struct stat info {};
    return ::stat(file.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

bool valid_module_name(std::string_view name) {
    if (name.empty()) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t slash = name.find('/', start);
        if (!valid_segment(name.substr(start, slash - start))) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

resolver::resolver(std::vector<std::filesystem::path> search_path)
    : search_path_(std::move(search_path)) {}

std::vector<std::filesystem::path> resolver::candidates(std::string_view name) const {
    std::vector<std::filesystem::path> files;
    std::string base(name);
    for (const auto& directory : search_path_) {
        files.push_back(directory / (base + ".so"));
        files.push_back(directory / base / "index.so");
    }
    return files;
}

outcome<std::filesystem::path> resolver::resolve(std::string_view name) const {
    if (!valid_module_name(name))
        return failure{"invalid module name '" + std::string(name) +
                       "' (segments of [A-Za-z0-9_-][A-Za-z0-9_.-]* separated by '/')"};
    if (search_path_.empty())
        return failure{"module '" + std::string(name) + "' not found: no --module-path given"};
    std::string looked_in;
    for (auto& file : candidates(name)) {
        if (regular_file_exists(file)) return file;
        looked_in += looked_in.empty() ? "" : ", ";
        looked_in += file.string();
    }
    return failure{"module '" + std::string(name) + "' not found; looked in: " + looked_in};
}

}  // namespace replug
