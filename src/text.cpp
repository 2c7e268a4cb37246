#include "text.hpp"

#include <charconv>
#include <cstdio>

namespace replug {

std::string trim(std::string_view text) {
    constexpr std::string_view blanks = " \t\r\n";
    auto start = text.find_first_not_of(blanks);
    if (start == std::string_view::npos) return {};
    auto end = text.find_last_not_of(blanks);
    return std::string(text.substr(start, end - start + 1));
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

std::string ascii_lower(std::string_view text) {
    std::string result(text);
    for (char& c : result) c = ascii_lower(c);
    return result;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

}  // namespace replug
