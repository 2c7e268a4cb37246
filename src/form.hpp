// application/x-www-form-urlencoded: the query string and a form body.
// Fields are separated by '&'; a field is NAME=VALUE, or NAME alone (an
// empty value); empty fields ("a=1&&b=2") are skipped; '+' is a space and
// %XX a byte, in names and values alike. The bytes come out as they were
// sent: no charset conversion.
//
// Unlike Python's urllib.parse.parse_qsl, which keeps a malformed escape
// ("%4", "%zz") as literal text whether strict_parsing is set or not, a
// malformed escape here is an error: the request is answered 400, never
// guessed at. Otherwise the result equals
// parse_qsl(text, keep_blank_values=True, strict_parsing=False) on bytes
// (strict parsing would refuse a field without '=', which browsers and curl
// send for a bare checkbox name; it is kept here with an empty value).
#ifndef REPLUG_FORM_HPP
#define REPLUG_FORM_HPP

#include <string>
#include <string_view>
#include <vector>

#include "outcome.hpp"

namespace replug {

struct form_field {
    std::string name;
    std::string value;

    bool operator==(const form_field&) const = default;
};

// TEXT with '+' as a space and every %XX as its byte. On a '%' not
// followed by two hex digits: a failure naming the offset in TEXT.
outcome<std::string> decode_form_component(std::string_view text);

// Appends the fields of TEXT to FIELDS, in order. On a malformed escape:
// a failure (bad_input) whose reason names the field's position, and
// FIELDS may hold the fields before it.
outcome<std::size_t> parse_form(std::string_view text, std::vector<form_field>& fields);

// Whether CONTENT_TYPE (a Content-Type header value) is
// application/x-www-form-urlencoded, any parameters and case aside.
bool is_form_urlencoded(std::string_view content_type);

}  // namespace replug

#endif
