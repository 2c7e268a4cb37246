// A small JSON writer for the admin answers: objects, arrays, strings,
// numbers, booleans, with commas and escaping handled. Its output is valid
// UTF-8 whatever bytes it is given: a byte that is not part of valid UTF-8
// is written as \u00XX (the character of that number, as Latin-1 reads it),
// so a strict parser accepts the answer and different names stay different.
#ifndef REPLUG_JSON_HPP
#define REPLUG_JSON_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace replug {

class json_writer {
public:
    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    // Inside an object: the next value's key.
    json_writer& key(std::string_view name);

    json_writer& value(std::string_view text);
    json_writer& value(const char* text) { return value(std::string_view(text)); }
    json_writer& value(std::int64_t number);
    json_writer& value(std::uint64_t number);
    json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
    json_writer& value(double number);
    json_writer& value(bool flag);
    json_writer& null();
    // An RFC 3339 UTC time, or null for the epoch (never happened).
    json_writer& value(std::chrono::system_clock::time_point time);

    template <typename T>
    json_writer& field(std::string_view name, const T& v) { return key(name).value(v); }

    const std::string& text() const { return out_; }

private:
    void separate();

    std::string out_;
    std::vector<bool> first_;  // per open container: no element written yet
    bool after_key_ = false;
};

}  // namespace replug

#endif
