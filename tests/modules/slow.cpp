// Answers after the number of milliseconds in the query string (?250), so
// that tests can hold a request in flight across a swap or a SIGTERM.
#include <replug/module.hpp>

#include <chrono>
#include <thread>

static void serve(replug::request& req, replug::response& res) {
    int millis = 0;
    for (char c : req.query())
        if (c >= '0' && c <= '9') millis = millis * 10 + (c - '0');
    std::this_thread::sleep_for(std::chrono::milliseconds(millis));
    res << "slow " << SLOW_VERSION << " after " << millis << "ms";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION(SLOW_VERSION)
