// An example module: answers "Hello, <name>" for /greeting?name=<name>.
#include <replug/module.hpp>

#include <string>

static void serve(replug::request& req, replug::response& res) {
    std::string name = "world";
    std::string_view query = req.query();
    if (query.starts_with("name=") && query.size() > 5) name = query.substr(5);
    res.header("Content-Type", "text/plain");
    res << "Hello, " << name << '\n';
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
