// Echoes what the SDK sees of a request, one "name: value" line each.
#include <replug/module.hpp>

static void serve(replug::request& req, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res.header("X-Echo", "yes");
    res << "method: " << req.method() << '\n'
        << "path: " << req.path() << '\n'
        << "query: " << req.query() << '\n'
        << "param REQUEST_URI: " << req.param("REQUEST_URI") << '\n'
        << "header x-test: " << req.header("x-test") << '\n'
        << "header Content-Type: " << req.header("Content-Type") << '\n'
        << "body: " << req.body() << '\n';
}

// A second handler in the same module, routed as echo:status
static void status(replug::request& req, replug::response& res) {
    int code = 0;
    for (char c : req.query())
        if (c >= '0' && c <= '9') code = code * 10 + (c - '0');
    res.status(code);
    res << "status " << code;
}

REPLUG_HANDLER(serve)
REPLUG_HANDLER(status)
REPLUG_VERSION("echo-1")
