// Small text conversions shared by the pieces that read files, headers and
// command lines, and report on them. ASCII only, whatever the locale: what
// protocols and file formats mean by case.
#ifndef REPLUG_TEXT_HPP
#define REPLUG_TEXT_HPP

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace replug {

// TEXT without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view text);
// TEXT without leading and trailing spaces and tabs (HTTP's optional white
// space), as a view into it.
std::string_view trim_blanks(std::string_view text);
// RFC 7230's tchar: what a header name, a cookie name or a parameter name is made of.
bool token_char(char c);

// The number TEXT spells in ASCII decimal digits, nothing else (no sign, no
// space); nullopt when it does not, or does not fit.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

// The permission bits of MODE as four octal digits, "0644".
std::string octal_mode(mode_t mode);

// C in lower (upper) case when it is an ASCII letter; any other byte as it is.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// TEXT with its ASCII letters in lower case: "content-type" from "Content-Type".
std::string ascii_lower(std::string_view text);

// True when A and B are equal but for the case of ASCII letters.
bool equal_ignoring_case(std::string_view a, std::string_view b);

// How many bytes the valid UTF-8 sequence at the start of TEXT takes (1 to
// 4), or 0 when TEXT is empty or starts with bytes that are not UTF-8 (as
// RFC 3629 defines it: no overlong forms, no surrogates U+D800..U+DFFF,
// nothing above U+10FFFF, no sequence cut short, no stray continuation byte).
std::size_t utf8_sequence_length(std::string_view text);

// TEXT as valid UTF-8, for JSON strings and Prometheus label values, which
// must be UTF-8 (file names on Linux need not be): every byte that is not
// part of a valid sequence becomes the character of the same number,
// U+0080..U+00FF (as Latin-1 reads it), so that different bytes stay
// different characters. Valid UTF-8 comes back as it is.
std::string valid_utf8(std::string_view text);

}  // namespace replug

#endif
