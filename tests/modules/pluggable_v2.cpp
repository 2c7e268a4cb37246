#include <replug/module.hpp>

static void serve(replug::request&, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << "Second version of code";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("2")
