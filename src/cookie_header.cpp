#include "cookie_header.hpp"

#include <algorithm>

#include "text.hpp"

namespace replug {

std::vector<cookie_pair> parse_cookie_header(std::string_view header) {
    std::vector<cookie_pair> pairs;
    for (std::size_t start = 0; start <= header.size();) {
        std::size_t end = std::min(header.find(';', start), header.size());
        std::string_view pair = header.substr(start, end - start);
        start = end + 1;
        std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos) continue;
        std::string_view name = trim_blanks(pair.substr(0, equals));
        std::string_view value = trim_blanks(pair.substr(equals + 1));
        if (name.empty()) continue;
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        pairs.push_back({name, value});
    }
    return pairs;
}

}  // namespace replug
