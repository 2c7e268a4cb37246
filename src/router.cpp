#include "router.hpp"

#include <algorithm>

#include "resolver.hpp"

namespace replug {

namespace {

bool valid_symbol(std::string_view symbol) {
    if (symbol.empty() || (symbol.front() >= '0' && symbol.front() <= '9')) return false;
    return std::all_of(symbol.begin(), symbol.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool valid_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') return false;
    std::string_view fixed = pattern;
    if (fixed.ends_with("/*")) fixed.remove_suffix(1);
    return std::none_of(fixed.begin(), fixed.end(), [](char c) {
        return c == '*' || c == '?' || c == '#' || c <= ' ' || c == 0x7f;
    });
}

}  // namespace

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

outcome<route_spec> parse_route(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return failure{"bad route '" + std::string(text) + "': " + why, failure_kind::bad_input};
    };
    std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) return bad("expected PATH=MODULE[:SYMBOL]");
    route_spec spec;
    spec.pattern = text.substr(0, equals);
    std::string_view target = text.substr(equals + 1);
    if (std::size_t colon = target.find(':'); colon != std::string_view::npos) {
        spec.symbol = target.substr(colon + 1);
        target = target.substr(0, colon);
    }
    spec.module = target;
    if (!valid_pattern(spec.pattern))
        return bad("PATH must start with '/', and may end in '/*' (a prefix); no other '*', '?', '#' or spaces");
    if (!valid_module_name(spec.module))
        return bad("MODULE must be '/'-separated segments of [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    if (!valid_symbol(spec.symbol)) return bad("SYMBOL must be a C identifier");
    return spec;
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
