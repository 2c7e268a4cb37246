// Load hooks: HOOK_MODE 0 accepts, 1 refuses, 2 throws, 3 throws in the
// process whose pid is in the file $REPLUG_TEST_REFUSE_PID (one worker of
// several) and accepts elsewhere, 4 counts its loads as lines of the file
// $REPLUG_TEST_LOAD_COUNT and throws once it holds $REPLUG_TEST_LOADS_ALLOWED
// of them (where those are set; it accepts elsewhere): a check that passes,
// then a swap that is refused.
#include <replug/module.hpp>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

static bool refused_here() {
    const char* file = std::getenv("REPLUG_TEST_REFUSE_PID");
    std::ifstream pid_file(file ? file : "");
    long pid = 0;
    return pid_file >> pid && pid == static_cast<long>(::getpid());
}

static bool loads_used_up() {
    const char* file = std::getenv("REPLUG_TEST_LOAD_COUNT");
    const char* allowed = std::getenv("REPLUG_TEST_LOADS_ALLOWED");
    if (!file || !allowed) return false;
    long lines = 0;
    std::ifstream counted(file);
    for (std::string line; std::getline(counted, line);) ++lines;
    if (lines >= std::atol(allowed)) return true;
    std::ofstream(file, std::ios::app) << "loaded\n";
    return false;
}

static bool on_load() {
    if (HOOK_MODE == 1) return false;
    if (HOOK_MODE == 2) throw std::runtime_error("database not reachable");
    if (HOOK_MODE == 3 && refused_here()) throw std::runtime_error("database not reachable from this worker");
    if (HOOK_MODE == 4 && loads_used_up()) throw std::runtime_error("no more loads allowed here");
    return true;
}

static void serve(replug::request&, replug::response& res) { res << "hooked " << HOOK_MODE; }

REPLUG_HANDLER(serve)
REPLUG_ON_LOAD(on_load)
REPLUG_VERSION("hooks")
