// libFuzzer harness for res.cookie's header (src/set_cookie.cpp): any name,
// value and options either are refused with std::invalid_argument, or give
// a header with no control byte whose cookie the request-side parser
// (cookie_header.cpp) reads back as the same name and value.
// Input: a flags byte, then NAME \0 VALUE \0 PATH \0 DOMAIN \0 SAMESITE \0 EXPIRES.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cookie_header.hpp"
#include "set_cookie.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint8_t flags = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string_view> parts;
    for (int i = 0; i < 5; ++i) {
        auto zero = rest.find('\0');
        parts.push_back(rest.substr(0, zero));
        rest = zero == std::string_view::npos ? std::string_view() : rest.substr(zero + 1);
    }
    parts.push_back(rest);
    replug::cookie_options options;
    options.max_age = (flags & 1) ? (flags >> 3) : -1;
    options.secure = flags & 2;
    options.http_only = flags & 4;
    options.path = parts[2];
    options.domain = parts[3];
    options.same_site = parts[4];
    options.expires = parts[5];
    std::string header;
    try {
        header = replug::set_cookie_header(parts[0], parts[1], options);
    } catch (const std::invalid_argument&) {
        return 0;
    }
    for (unsigned char c : header)
        if (c < 0x20 || c >= 0x7f) std::abort();
    // The first pair is the cookie; what follows are attributes.
    std::string cookie = header.substr(0, header.find("; "));  // the pairs point into it
    auto pairs = replug::parse_cookie_header(cookie);
    if (pairs.size() != 1 || pairs[0].name != parts[0]) std::abort();
    std::string_view value = parts[1];
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (pairs[0].value != value) std::abort();
    return 0;
}
