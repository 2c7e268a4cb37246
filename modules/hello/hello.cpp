// The smallest useful module: answers every request it is routed.
#include <replug/module.hpp>

static void serve(replug::request& req, replug::response& res) {
    res.header("Content-Type", "text/plain; charset=utf-8");
    res << "Hello from replug: " << req.method() << ' ' << req.path() << '\n';
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
