// Naps for ?ms=N milliseconds (at most 60 s), then answers: a route whose
// requests stay in its handler, for --max-in-flight.
#include <replug/module.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

static void serve(replug::request& req, replug::response& res) {
    long millis = 0;
    auto query = req.query();
    if (query.starts_with("ms="))
        for (char c : query.substr(3)) {
            if (c < '0' || c > '9') break;
            millis = std::min(millis * 10 + (c - '0'), 60'000L);
        }
    std::this_thread::sleep_for(std::chrono::milliseconds(millis));
    res << "napped " << millis << "ms";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
