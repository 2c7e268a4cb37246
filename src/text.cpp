#include "text.hpp"

#include <cstdio>

namespace replug {

std::string trim(std::string_view text) {
    constexpr std::string_view blanks = " \t\r\n";
    auto start = text.find_first_not_of(blanks);
    if (start == std::string_view::npos) return {};
    auto end = text.find_last_not_of(blanks);
    return std::string(text.substr(start, end - start + 1));
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

}  // namespace replug
