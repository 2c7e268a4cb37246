// A module whose version is not UTF-8 (Latin-1 "café"): status and metrics,
// which must be UTF-8, show it all the same.
#include <replug/module.hpp>

static void serve(replug::request&, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << "Latin-1 version";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("caf\xe9")
