#include <replug/module.hpp>

extern "C" int replug_test_gone_value();

static void serve(replug::request&, replug::response& res) { res << replug_test_gone_value(); }

REPLUG_HANDLER(serve)
REPLUG_VERSION("needs-gone")
