#include "json.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "text.hpp"

namespace replug {

void json_writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

json_writer& json_writer::begin_object() {
    separate();
    out_ += '{';
    first_.push_back(true);
    return *this;
}

json_writer& json_writer::end_object() {
    out_ += '}';
    first_.pop_back();
    return *this;
}

json_writer& json_writer::begin_array() {
    separate();
    out_ += '[';
    first_.push_back(true);
    return *this;
}

json_writer& json_writer::end_array() {
    out_ += ']';
    first_.pop_back();
    return *this;
}

json_writer& json_writer::key(std::string_view name) {
    value(name);
    out_ += ':';
    after_key_ = true;
    return *this;
}

json_writer& json_writer::value(std::string_view text) {
    separate();
    out_ += '"';
    while (!text.empty()) {
        auto c = static_cast<unsigned char>(text[0]);
        std::size_t length = utf8_sequence_length(text);
        if (length > 1) {  // a valid multi-byte character, as it is
            out_.append(text.substr(0, length));
            text.remove_prefix(length);
            continue;
        }
        text.remove_prefix(1);
        switch (c) {
            case '"': out_ += "\\\""; break;
            case '\\': out_ += "\\\\"; break;
            case '\n': out_ += "\\n"; break;
            case '\r': out_ += "\\r"; break;
            case '\t': out_ += "\\t"; break;
            default:
                // Control characters, and bytes that are not UTF-8 (a file
                // name may hold any): \u00XX, the character of that number.
                if (c < 0x20 || c >= 0x7f) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                    out_ += escaped;
                } else {
                    out_ += static_cast<char>(c);
                }
        }
    }
    out_ += '"';
    return *this;
}

json_writer& json_writer::value(std::int64_t number) {
    separate();
    out_ += std::to_string(number);
    return *this;
}

json_writer& json_writer::value(std::uint64_t number) {
    separate();
    out_ += std::to_string(number);
    return *this;
}

json_writer& json_writer::value(double number) {
    if (!std::isfinite(number)) return null();
    separate();
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", number);
    out_ += text;
    return *this;
}

json_writer& json_writer::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
}

json_writer& json_writer::null() {
    separate();
    out_ += "null";
    return *this;
}

json_writer& json_writer::value(std::chrono::system_clock::time_point time) {
    if (time.time_since_epoch().count() == 0) return null();
    std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return value(std::string_view(text));
}

}  // namespace replug
