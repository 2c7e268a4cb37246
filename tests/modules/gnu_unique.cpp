// Built WITHOUT -fno-gnu-unique: the inline static becomes STB_GNU_UNIQUE.
#include <replug/module.hpp>

inline int& shared_count() {
    static int count = 0;
    return count;
}

static void serve(replug::request&, replug::response& res) { res << "count=" << ++shared_count(); }

REPLUG_HANDLER(serve)
REPLUG_VERSION("unique")
