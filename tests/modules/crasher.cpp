// Crashes the way its query string says, for the tests of worker processes:
// ?segv, ?abort, ?exit, ?fpe, ?stack, ?bus, ?ill. Anything else answers
// "crasher ok". Loading it into a process that has to survive is a mistake:
// every crash takes the whole process down.
#include <replug/module.hpp>

#include <csignal>
#include <cstdlib>
#include <string_view>

namespace {

// Read at run time, so the compiler cannot see that the recursion never ends
// (g++ 12 refuses -Winfinite-recursion under -Werror).
volatile bool recursion_goes_on = true;

// Each frame hands its own array to the next call, so no frame can be reused:
// no tail call, no loop. The stack runs out: SIGSEGV on the guard page.
int recurse(volatile char* caller) {
    volatile char frame[512];
    frame[0] = caller ? caller[0] : 1;
    if (!recursion_goes_on) return frame[0];
    return recurse(frame) + frame[0];
}

// For the crashes that raise a signal: raise returns when the signal is
// ignored or blocked, and the request then says so instead of crashing.
void survived(replug::response& res, std::string_view how) {
    res.status(500);
    res << "crasher survived ?" << how;
}

}  // namespace

#ifndef CRASH_ALWAYS
#define CRASH_ALWAYS 0
#endif

static void serve(replug::request& req, replug::response& res) {
    // CRASH_ALWAYS: a bad deploy, which dereferences null on every request.
    std::string_view how = CRASH_ALWAYS ? std::string_view("segv") : req.query();
    if (how == "segv") {
        // Volatile twice: the pointer, so that g++ cannot prove it null and
        // turn the store into a trap (-fisolate-erroneous-paths-dereference);
        // the int, so that the store is not dropped as dead (g++ 12 -O2 did).
        volatile int* volatile nowhere = nullptr;
        *nowhere = 1;
        survived(res, how);
    } else if (how == "abort") {
        std::abort();
    } else if (how == "exit") {
        std::exit(3);
    } else if (how == "fpe") {
        // A real divide fault on x86-64; aarch64 divides by zero without a
        // trap, hence the raise after it.
        volatile int zero = 0;
        volatile int quotient = 1 / zero;
        static_cast<void>(quotient);
        std::raise(SIGFPE);
        survived(res, how);
    } else if (how == "stack") {
        res << recurse(nullptr);
    } else if (how == "bus") {
        std::raise(SIGBUS);
        survived(res, how);
    } else if (how == "ill") {
        __builtin_trap();  // SIGILL on x86-64 (ud2); SIGTRAP on aarch64 (brk)
    } else {
        res.header("Content-Type", "text/plain");
        res << "crasher ok";
    }
}

REPLUG_HANDLER(serve)
#if CRASH_ALWAYS
REPLUG_VERSION("crashes")
#else
REPLUG_VERSION("1")
#endif
