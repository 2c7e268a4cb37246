#include "router.hpp"

#include <algorithm>

namespace replug {

bool acceptable_path(std::string_view path) {
    if (path.empty() || path.front() != '/' || path.size() > max_path_length) return false;
    std::size_t start = 1;
    while (start <= path.size()) {
        std::size_t slash = path.find('/', start);
        std::string_view segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (slash == std::string_view::npos) return segment != "." && segment != "..";
        if (segment.empty() || segment == "." || segment == "..") return false;
        start = slash + 1;
    }
    return true;
}

router::router(const std::vector<std::string>& patterns) {
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        const std::string& pattern = patterns[i];
        if (pattern.ends_with("/*"))
            prefixes_.emplace_back(pattern.substr(0, pattern.size() - 1), i);
        else
            exact_.emplace(pattern, i);
    }
    std::stable_sort(prefixes_.begin(), prefixes_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::optional<std::size_t> router::match(std::string_view path) const {
    if (auto found = exact_.find(path); found != exact_.end()) return found->second;
    for (const auto& [prefix, index] : prefixes_) {
        // "/echo/" takes "/echo/..." and "/echo" itself.
        if (path.starts_with(prefix) || path == std::string_view(prefix).substr(0, prefix.size() - 1))
            return index;
    }
    return std::nullopt;
}

}  // namespace replug
