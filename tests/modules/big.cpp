// Large bodies both ways. GET /big?N streams N bytes of 'x' in 64 KiB writes;
// POST answers with the size of the body it read and a simple checksum.
#include <replug/module.hpp>

#include <string>

static void serve(replug::request& req, replug::response& res) {
    if (req.method() == "POST") {
        std::string_view body = req.body();
        unsigned long sum = 0;
        for (unsigned char c : body) sum = (sum * 31 + c) % 1000000007;
        res << "received " << body.size() << " bytes, checksum " << sum;
        return;
    }
    std::size_t size = 0;
    for (char c : req.query())
        if (c >= '0' && c <= '9') size = size * 10 + static_cast<std::size_t>(c - '0');
    res.header("Content-Type", "application/octet-stream");
    std::string chunk(64 * 1024, 'x');
    for (std::size_t sent = 0; sent < size; sent += chunk.size())
        res.write(std::string_view(chunk).substr(0, std::min(chunk.size(), size - sent)));
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("big-1")
