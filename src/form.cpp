#include "form.hpp"

#include <algorithm>

#include "text.hpp"

namespace replug {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

outcome<std::string> decode_form_component(std::string_view text) {
    std::string decoded;
    decoded.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            decoded += ' ';
        } else if (c != '%') {
            decoded += c;
        } else {
            int high = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
            int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
            if (high < 0 || low < 0)
                return failure{"malformed percent-escape at byte " + std::to_string(i) +
                                   " (a '%' must be followed by two hex digits)",
                               failure_kind::bad_input};
            decoded += static_cast<char>(high * 16 + low);
            i += 2;
        }
    }
    return decoded;
}

outcome<std::size_t> parse_form(std::string_view text, std::vector<form_field>& fields) {
    std::size_t added = 0;
    std::size_t position = 0;  // of the field, counting from 1, empty ones included
    for (std::size_t start = 0; start <= text.size(); ++position) {
        std::size_t end = std::min(text.find('&', start), text.size());
        std::string_view field = text.substr(start, end - start);
        start = end + 1;
        if (field.empty()) continue;
        std::size_t equals = field.find('=');
        auto name = decode_form_component(field.substr(0, equals));
        auto value = decode_form_component(equals == std::string_view::npos ? std::string_view{}
                                                                             : field.substr(equals + 1));
        if (!name || !value)
            return failure{"field " + std::to_string(position + 1) + (name ? " value" : " name") + ": " +
                               (name ? value.reason() : name.reason()),
                           failure_kind::bad_input};
        fields.push_back({std::move(*name), std::move(*value)});
        ++added;
    }
    return added;
}

bool is_form_urlencoded(std::string_view content_type) {
    std::string_view media_type = content_type.substr(0, content_type.find(';'));
    return equal_ignoring_case(trim(media_type), "application/x-www-form-urlencoded");
}

}  // namespace replug
