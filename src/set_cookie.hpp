// res.cookie's header: name, value and options -> the value of one
// Set-Cookie header (RFC 6265 section 4.1), or the reason it would break the
// header or be dropped by browsers. Pure.
#ifndef REPLUG_SET_COOKIE_HPP
#define REPLUG_SET_COOKIE_HPP

#include <string>
#include <string_view>

#include "replug/module.hpp"

namespace replug {

// "NAME=VALUE; Max-Age=..; Expires=..; Path=..; Domain=..; Secure; HttpOnly;
// SameSite=.." with the attributes OPTIONS sets (empty strings and a negative
// Max-Age are left out). Nothing is quoted or encoded for the caller: what is
// sent is what the browser sends back. Throws std::invalid_argument, naming
// the reason, when
//   NAME is not an RFC 6265 token (empty, controls, spaces, separators);
//   VALUE has a byte outside cookie-octet (controls, space, '"', ',', ';',
//     '\\', non-ASCII), unless it is one DQUOTE-wrapped run of them;
//   NAME and VALUE together pass 4096 bytes (browsers drop such cookies);
//   Expires or Path has ';', a control or a non-ASCII byte; Domain is not
//     a host name;
//   SameSite is not Strict, Lax or None (any case), or None without Secure;
//   a __Secure- name without Secure, a __Host- name without Secure, with a
//     Domain or with a Path other than "/" (browsers drop those).
std::string set_cookie_header(std::string_view name, std::string_view value, const cookie_options& options);

}  // namespace replug

#endif
