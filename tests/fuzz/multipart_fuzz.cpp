// libFuzzer harness for the multipart/form-data parser (src/multipart.cpp).
// The input's first line is the Content-Type, the rest the body. Any bytes
// parse or are refused with a reason; parts point into the body; the limits
// hold (tight ones too, so that the fuzzer reaches them).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "multipart.hpp"

namespace {

void check(std::string_view body, std::string_view boundary, const replug::multipart_limits& limits) {
    auto parts = replug::parse_multipart(body, boundary, limits);
    if (!parts) {
        if (parts.reason().empty()) std::abort();
        return;
    }
    if (parts->size() > limits.max_parts) std::abort();
    for (const auto& part : *parts) {
        if (part.data.data() < body.data() || part.data.data() + part.data.size() > body.data() + body.size())
            std::abort();
        if (!part.content_type.empty() && (part.content_type.data() < body.data() ||
                                           part.content_type.data() + part.content_type.size() >
                                               body.data() + body.size()))
            std::abort();
        if (!part.has_filename && !part.filename.empty()) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;
    auto boundary = replug::multipart_boundary(input.substr(0, newline));
    if (!boundary) {
        if (boundary.reason().empty()) std::abort();
        return 0;
    }
    if (boundary->empty() || boundary->size() > 70) std::abort();
    std::string_view body = input.substr(newline + 1);
    check(body, *boundary, {});
    check(body, *boundary, {2, 64});
    return 0;
}
