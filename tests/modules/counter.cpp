// An inline function with a static: g++ makes it STB_GNU_UNIQUE unless the
// module is built with -fno-gnu-unique. With the flag, every version has its
// own counter: a new version starts again at 1.
#include <replug/module.hpp>

inline int next_count() {
    static int count = 0;
    return ++count;
}

static void serve(replug::request&, replug::response& res) {
    res << "counter " << COUNTER_VERSION << " count=" << next_count();
}

REPLUG_HANDLER(serve)
REPLUG_VERSION(COUNTER_VERSION)
