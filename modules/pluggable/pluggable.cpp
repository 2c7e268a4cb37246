// The hot-swap story: edit the text, rebuild, reload, and the next request
// runs the new code while the old version finishes what it started.
#include <replug/module.hpp>

static void serve(replug::request&, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << "First version of code";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
