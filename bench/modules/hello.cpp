// The bench's hello route: the same bytes as bench/raw ("Hello", and the
// default Content-Type replugd adds when a module sets none).
#include <replug/module.hpp>

static void serve(replug::request&, replug::response& res) { res << "Hello"; }

REPLUG_HANDLER(serve)
REPLUG_VERSION("hello-1")
