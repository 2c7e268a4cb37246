#include "set_cookie.hpp"

#include <stdexcept>

#include "log.hpp"
#include "text.hpp"

namespace replug {

namespace {

constexpr std::size_t max_cookie_bytes = 4096;

// %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
bool cookie_octet(unsigned char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e);
}

// Any CHAR but controls and ';'.
bool attribute_byte(unsigned char c) { return c >= 0x20 && c < 0x7f && c != ';'; }

bool host_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

template <typename Predicate>
bool all_bytes(std::string_view text, Predicate allowed) {
    for (unsigned char c : text)
        if (!allowed(c)) return false;
    return true;
}

[[noreturn]] void refuse(std::string_view name, const std::string& why) {
    // Escaped: the name may hold the very bytes that got it refused (a NUL would end what()).
    throw std::invalid_argument("res.cookie(\"" + printable(name, 64) + "\"): " + why);
}

void check_attribute(std::string_view name, const char* attribute, std::string_view text) {
    if (!all_bytes(text, attribute_byte))
        refuse(name, std::string(attribute) + " has ';', a control or a non-ASCII byte");
}

}  // namespace

std::string set_cookie_header(std::string_view name, std::string_view value, const cookie_options& options) {
    if (name.empty()) refuse(name, "the name is empty");
    if (!all_bytes(name, token_char))
        refuse(name, "the name must be a token: no controls, spaces or any of ()<>@,;:\\\"/[]?={}");
    std::string_view inner = value;
    if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"') inner = inner.substr(1, inner.size() - 2);
    if (!all_bytes(inner, cookie_octet))
        refuse(name, "the value has a byte a cookie cannot carry (controls, space, '\"', ',', ';', '\\' or "
                     "non-ASCII); encode it first (percent-encoding or base64url)");
    if (name.size() + value.size() > max_cookie_bytes)
        refuse(name, "name and value pass 4096 bytes; browsers drop such cookies");
    check_attribute(name, "Expires", options.expires);
    check_attribute(name, "Path", options.path);
    if (!all_bytes(options.domain, host_byte)) refuse(name, "Domain must be a host name ([A-Za-z0-9.-])");

    std::string_view same_site;
    if (!options.same_site.empty()) {
        for (std::string_view known : {"Strict", "Lax", "None"})
            if (equal_ignoring_case(options.same_site, known)) same_site = known;
        if (same_site.empty()) refuse(name, "SameSite must be Strict, Lax or None");
        if (same_site == "None" && !options.secure)
            refuse(name, "SameSite=None needs Secure (browsers drop the cookie otherwise)");
    }
    if (name.starts_with("__Secure-") && !options.secure) refuse(name, "a __Secure- cookie needs Secure");
    if (name.starts_with("__Host-") && (!options.secure || !options.domain.empty() || options.path != "/"))
        refuse(name, "a __Host- cookie needs Secure, Path=/ and no Domain");

    std::string header;
    header.reserve(name.size() + value.size() + 128);
    header.append(name).append("=").append(value);
    if (options.max_age >= 0) header.append("; Max-Age=").append(std::to_string(options.max_age));
    if (!options.expires.empty()) header.append("; Expires=").append(options.expires);
    if (!options.path.empty()) header.append("; Path=").append(options.path);
    if (!options.domain.empty()) header.append("; Domain=").append(options.domain);
    if (options.secure) header.append("; Secure");
    if (options.http_only) header.append("; HttpOnly");
    if (!same_site.empty()) header.append("; SameSite=").append(same_site);
    return header;
}

}  // namespace replug
