// Leaks 8 MiB per request: allocates it, touches every page (so that it is
// resident, not just reserved) and never frees it. For --max-rss.
#include <replug/module.hpp>

#include <cstdlib>
#include <cstring>

static void serve(replug::request&, replug::response& res) {
    constexpr std::size_t size = 8u << 20;
    auto* block = static_cast<char*>(std::malloc(size));
    if (!block) {
        res.status(500);
        res << "out of memory";
        return;
    }
    for (std::size_t at = 0; at < size; at += 4096) block[at] = static_cast<char>(at >> 12);
    res << "leaked 8 MiB";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
