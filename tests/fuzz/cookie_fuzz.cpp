// libFuzzer harness for the Cookie header parser (src/cookie_header.cpp):
// any bytes give pairs with a name, pointing into the header, never
// holding a separator.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cookie_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view header(reinterpret_cast<const char*>(data), size);
    auto inside = [&](std::string_view piece) {
        return piece.data() >= header.data() && piece.data() + piece.size() <= header.data() + header.size();
    };
    for (const auto& pair : replug::parse_cookie_header(header)) {
        if (pair.name.empty() || !inside(pair.name) || !inside(pair.value)) std::abort();
        if (pair.name.find_first_of(";=") != std::string_view::npos) std::abort();
        if (pair.value.find(';') != std::string_view::npos) std::abort();
    }
    return 0;
}
