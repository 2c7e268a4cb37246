// The module the swap benchmark reloads: answers "Hello" like hello.cpp,
// and carries about 100 KB of read-only data, so that a reload reads, checks,
// copies and maps a module of realistic size.
#include <replug/module.hpp>

#include <array>
#include <cstddef>

namespace {

constexpr std::size_t table_bytes = 84 * 1024;

constexpr std::array<unsigned char, table_bytes> make_table() {
    std::array<unsigned char, table_bytes> table{};
    unsigned state = 2463534242u;
    for (auto& byte : table) {  // xorshift: not compressible, not all zero
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        byte = static_cast<unsigned char>(state);
    }
    return table;
}

constexpr auto table = make_table();

}  // namespace

static void serve(replug::request& req, replug::response& res) {
    // Touch the table so that it stays in the image.
    if (req.query() == "table") res << static_cast<unsigned>(table[req.path().size() % table_bytes]) << ' ';
    res << "Hello";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION(BENCH_VERSION)
