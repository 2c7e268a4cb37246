// Load hooks: HOOK_MODE 0 accepts, 1 refuses, 2 throws, 3 throws in the
// process whose pid is in the file $REPLUG_TEST_REFUSE_PID (one worker of
// several) and accepts elsewhere.
#include <replug/module.hpp>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

static bool refused_here() {
    const char* file = std::getenv("REPLUG_TEST_REFUSE_PID");
    std::ifstream pid_file(file ? file : "");
    long pid = 0;
    return pid_file >> pid && pid == static_cast<long>(::getpid());
}

static bool on_load() {
    if (HOOK_MODE == 1) return false;
    if (HOOK_MODE == 2) throw std::runtime_error("database not reachable");
    if (HOOK_MODE == 3 && refused_here()) throw std::runtime_error("database not reachable from this worker");
    return true;
}

static void serve(replug::request&, replug::response& res) { res << "hooked " << HOOK_MODE; }

REPLUG_HANDLER(serve)
REPLUG_ON_LOAD(on_load)
REPLUG_VERSION("hooks")
