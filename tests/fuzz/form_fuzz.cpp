// libFuzzer harness for the x-www-form-urlencoded parser (src/form.cpp):
// any bytes parse or are refused with a reason, and what parses survives a
// round trip (every byte percent-encoded, parsed again: the same fields).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "form.hpp"

namespace {

std::string encode(std::string_view bytes) {
    static const char digits[] = "0123456789ABCDEF";
    std::string text;
    for (unsigned char c : bytes) {
        text += '%';
        text += digits[c >> 4];
        text += digits[c & 15];
    }
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<replug::form_field> fields;
    auto parsed = replug::parse_form(input, fields);
    if (!parsed) {
        if (parsed.reason().empty()) std::abort();
        return 0;
    }
    if (*parsed != fields.size()) std::abort();
    std::string again;
    for (const auto& field : fields) again += encode(field.name) + "=" + encode(field.value) + "&";
    std::vector<replug::form_field> reparsed;
    if (!replug::parse_form(again, reparsed) || reparsed != fields) std::abort();
    return 0;
}
