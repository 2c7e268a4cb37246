// Load hooks: HOOK_MODE 0 accepts, 1 refuses, 2 throws.
#include <replug/module.hpp>

#include <stdexcept>

static bool on_load() {
    if (HOOK_MODE == 1) return false;
    if (HOOK_MODE == 2) throw std::runtime_error("database not reachable");
    return true;
}

static void serve(replug::request&, replug::response& res) { res << "hooked " << HOOK_MODE; }

REPLUG_HANDLER(serve)
REPLUG_ON_LOAD(on_load)
REPLUG_VERSION("hooks")
