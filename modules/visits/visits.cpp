// A visit counter that survives hot swaps: each version hands its state to
// the version that replaces it (REPLUG_EXPORT_STATE / REPLUG_IMPORT_STATE).
// The state is plain data from the global allocator, so it outlives the
// module that allocated it, and atomic, because the old version may still
// be finishing requests while the new one serves.
#include <replug/module.hpp>

#include <atomic>

#ifndef VISITS_VERSION
#define VISITS_VERSION "1"
#endif

namespace {

struct visits_state {
    std::atomic<long> count{0};
};

visits_state* state = nullptr;
bool handed_off = false;  // a successor took the state: do not free it

}  // namespace

static void* give_state() {
    handed_off = true;
    return state;
}

static void take_state(void* previous) {
    handed_off = false;
    state = previous ? static_cast<visits_state*>(previous) : new visits_state;
}

static void drop_state() {
    if (!handed_off) delete state;
}

static void serve(replug::request&, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << "visit " << ++state->count << " served by version " << VISITS_VERSION;
}

REPLUG_HANDLER(serve)
REPLUG_VERSION(VISITS_VERSION)
REPLUG_EXPORT_STATE(give_state)
REPLUG_IMPORT_STATE(take_state)
REPLUG_ON_UNLOAD(drop_state)
