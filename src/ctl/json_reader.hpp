// A small JSON reader (RFC 8259) for the admin answers replugctl receives:
// null, booleans, numbers, strings, arrays and objects. Strict: trailing
// commas, comments, single quotes, leading zeros, raw control characters in
// strings, lone surrogates and anything after the value are errors.
#ifndef REPLUG_JSON_READER_HPP
#define REPLUG_JSON_READER_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "outcome.hpp"

namespace replug {

class json_value {
public:
    using array = std::vector<json_value>;
    using object = std::vector<std::pair<std::string, json_value>>;  // in document order

    json_value() = default;  // null
    json_value(std::nullptr_t) {}
    json_value(bool flag) : data_(flag) {}
    json_value(double number) : data_(number) {}
    json_value(std::string text) : data_(std::move(text)) {}
    json_value(array items) : data_(std::move(items)) {}
    json_value(object members) : data_(std::move(members)) {}

    bool is_null() const { return data_.index() == 0; }
    bool is_bool() const { return data_.index() == 1; }
    bool is_number() const { return data_.index() == 2; }
    bool is_string() const { return data_.index() == 3; }
    bool is_array() const { return data_.index() == 4; }
    bool is_object() const { return data_.index() == 5; }

    // REQUIRES: the value has that type.
    bool as_bool() const { return std::get<bool>(data_); }
    double as_number() const { return std::get<double>(data_); }
    const std::string& as_string() const { return std::get<std::string>(data_); }
    const array& as_array() const { return std::get<array>(data_); }
    const object& as_object() const { return std::get<object>(data_); }

    // The member NAME of an object (the first, if repeated); null when this
    // is not an object or has no such member.
    const json_value& operator[](std::string_view name) const;

    // Convenience for answers whose shape is known: the string, or FALLBACK
    // when this is not a string; the number, or FALLBACK when not a number.
    std::string string_or(std::string_view fallback) const;
    double number_or(double fallback) const;

private:
    std::variant<std::nullptr_t, bool, double, std::string, array, object> data_;
};

// Parses TEXT as one JSON value (white space around it allowed). On failure
// the reason names the byte offset and what was expected there, e.g.
// "malformed JSON at offset 12: expected ',' or '}' in an object".
outcome<json_value> parse_json(std::string_view text);

}  // namespace replug

#endif
