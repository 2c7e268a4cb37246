// Never answers, the way its query string says, for the tests of handler
// timeouts: ?spin loops on the CPU, ?blocked blocks every signal first and
// then loops, ?stop stops its whole process (SIGSTOP: a worker whose
// watchdog cannot run either). Anything else answers "spin ok".
#include <replug/module.hpp>

#include <pthread.h>

#include <csignal>
#include <string_view>

namespace {

// Volatile: the loop has a side effect on every turn, so it is neither
// removed nor undefined behaviour.
volatile unsigned long turns = 0;

[[noreturn]] void spin_forever() {
    while (true) turns = turns + 1;
}

}  // namespace

static void serve(replug::request& req, replug::response& res) {
    std::string_view how = req.query();
    if (how == "spin") {
        spin_forever();
    } else if (how == "blocked") {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        spin_forever();
    } else if (how == "stop") {
        std::raise(SIGSTOP);
        spin_forever();
    }
    res.header("Content-Type", "text/plain");
    res << "spin ok";
}

REPLUG_HANDLER(serve)
REPLUG_VERSION("1")
