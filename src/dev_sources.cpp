#include "dev_sources.hpp"

#include <algorithm>

namespace replug {

namespace {

bool name_char(char c, bool first) {
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    return alnum || c == '_' || c == '-' || (!first && c == '.');
}

// "hello" for "hello.cpp" (and SUFFIX ".cpp"); nullopt when the stem is no module name.
std::optional<std::string> stem_with(std::string_view file, std::string_view suffix) {
    if (!file.ends_with(suffix)) return std::nullopt;
    file.remove_suffix(suffix.size());
    if (!valid_dev_name(file)) return std::nullopt;
    return std::string(file);
}

std::vector<std::filesystem::path> cpp_files_in(const std::filesystem::path& dir, const std::string& name) {
    std::vector<std::filesystem::path> sources;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir / name, error)) {
        auto file = entry.path().filename().string();
        if (stem_with(file, ".cpp") && entry.is_regular_file(error)) sources.push_back(std::filesystem::path(name) / file);
    }
    std::sort(sources.begin(), sources.end());
    return sources;
}

}  // namespace

bool valid_dev_name(std::string_view name) {
    if (name.empty() || name.size() > 200) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0)) return false;
    return true;
}

std::map<std::string, dev_module> scan_dev_directory(const std::filesystem::path& dir) {
    std::map<std::string, dev_module> modules;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
        auto file = entry.path().filename().string();
        if (auto name = stem_with(file, ".cpp"); name && entry.is_regular_file(error)) {
            modules[*name] = {*name, {file}, std::nullopt};
        } else if (valid_dev_name(file) && entry.is_directory(error) && !modules.contains(file)) {
            auto sources = cpp_files_in(dir, file);
            if (!sources.empty()) modules[file] = {file, std::move(sources), std::nullopt};
        }
    }
    for (auto& [name, module] : modules)
        if (std::filesystem::is_regular_file(dir / (name + ".flags"), error)) module.flags_file = name + ".flags";
    return modules;
}

std::optional<std::string> dev_module_of(const std::filesystem::path& relative) {
    auto first = relative.begin();
    if (first == relative.end()) return std::nullopt;
    std::string head = first->string();
    if (std::next(first) != relative.end()) {  // DIR/NAME/...: anything inside a module's directory
        if (!valid_dev_name(head)) return std::nullopt;
        return head;
    }
    if (auto name = stem_with(head, ".cpp")) return name;
    if (auto name = stem_with(head, ".flags")) return name;
    if (valid_dev_name(head)) return head;  // DIR/NAME itself: a module directory came or went
    return std::nullopt;
}

std::string dev_route_pattern(std::string_view name) { return "/" + std::string(name) + "/*"; }

outcome<std::vector<std::string>> parse_flags(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    int line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') ++line;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) words.push_back(std::exchange(word, {}));
            in_word = false;
        } else if (c == '#' && !in_word) {
            while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
        } else if (c == '\'' || c == '"') {
            int opened_on = line;
            in_word = true;
            std::size_t close = i + 1;
            for (; close < text.size() && text[close] != c; ++close) {
                if (text[close] == '\n') ++line;
                if (c == '"' && text[close] == '\\' && close + 1 < text.size() &&
                    (text[close + 1] == '"' || text[close + 1] == '\\'))
                    ++close;
                word += text[close];
            }
            if (close >= text.size())
                return failure{"line " + std::to_string(opened_on) + ": a " + (c == '"' ? "\"" : "'") +
                                   " is never closed",
                               failure_kind::bad_input};
            i = close;
        } else {
            in_word = true;
            word += c;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

}  // namespace replug
