// Throws: a std::exception for /throws/std, anything else otherwise.
#include <replug/module.hpp>

#include <stdexcept>

static void serve(replug::request& req, replug::response&) {
    if (req.path().ends_with("/std")) throw std::runtime_error("boom from the module");
    throw 42;
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("throws-1")
