// The handler watchdog: one thread per serving process that watches every
// serving thread's handler call. Past the route's --handler-timeout it
// answers 504 in the handler's place (or, when the response had started,
// cuts it), counts the timeout on the route, logs where the stuck thread
// is (its wchan and syscall, as uWSGI's harakiri-verbose does), and tells
// its owner (a worker then retires: see worker.cpp). Past --slow-log it
// logs the call once and counts it.
//
// A serving thread publishes its call in a cell of its own (watched_call,
// around the handler call): a few stores and, at the end, one fenced store
// and one load; no lock, no system call. The watchdog scans the cells
// every 100 ms. To read a call's pin (route, module, version) or answer on
// its connection it holds the cell; a call that ends waits for the hold to
// end, so the pin and the connection's fd stay valid while the watchdog
// uses them. Who writes the response is decided by one compare-exchange on
// the cell's response_owner (fcgi_request.hpp): exactly one of handler and
// watchdog sends headers.
//
// The stuck handler itself is not stopped (a thread cannot be killed
// safely): with worker processes its worker retires and the master kills
// it if it is still there at timeout + grace; in a single process the
// thread stays stuck.
#ifndef REPLUG_WATCHDOG_HPP
#define REPLUG_WATCHDOG_HPP

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fcgi_request.hpp"
#include "log.hpp"
#include "registry.hpp"

namespace replug {

// One handler call past its timeout, as the watchdog saw it.
struct timeout_event {
    std::string route;
    std::string module;
    std::string version;
    std::uint64_t generation = 0;
    double elapsed_seconds = 0;
    double timeout_seconds = 0;
    bool answered = false;  // 504 sent; false: the response had started and was cut
};

// Where a thread of this process is, from /proc/self/task/TID: the kernel
// function it sleeps in ("0" when it runs) and its system call (the number,
// or "running"). "?" for what cannot be read.
struct thread_whereabouts {
    std::string wchan = "?";
    std::string syscall = "?";
};
thread_whereabouts whereabouts_of(pid_t thread);

class watchdog {
public:
    using timeout_hook = std::function<void(const timeout_event&)>;

    // Watches THREADS serving threads (their indexes 0..THREADS-1); calls
    // ON_TIMEOUT on the watchdog's thread after each timeout is answered and
    // logged. Its thread starts here.
    watchdog(unsigned threads, const logger& log, timeout_hook on_timeout = {});
    ~watchdog();  // stops and joins its thread
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    // Serving thread INDEX's part, made first thing on that thread and kept
    // for its whole life: the thread's handler calls are watched.
    // REQUIRES: INDEX < threads; at most one per thread; the watchdog outlives it.
    class thread_scope {
    public:
        thread_scope(watchdog& owner, unsigned index) noexcept;
        ~thread_scope();
        thread_scope(const thread_scope&) = delete;
        thread_scope& operator=(const thread_scope&) = delete;
    };

    // Handler calls the watchdog answered or cut whose threads have not
    // returned yet: a drain does not wait for them.
    int taken_over() const noexcept;

    struct cell;

private:
    void run();
    void scan();

    const unsigned threads_;
    const logger& log_;
    timeout_hook on_timeout_;
    std::unique_ptr<cell[]> cells_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // under mutex_
    std::thread thread_;
};

// One handler call of the calling thread, watched while this lives: made
// around the handler call, after PIN and with REQUEST. A no-op on a thread
// without a watchdog::thread_scope, or when the route has neither a
// timeout nor a slow-log threshold. REQUIRES: REQUEST and PIN outlive it.
class watched_call {
public:
    watched_call(fcgi_request& request, const route_pin& pin) noexcept;
    ~watched_call();
    watched_call(const watched_call&) = delete;
    watched_call& operator=(const watched_call&) = delete;

private:
    fcgi_request& request_;
    watchdog::cell* cell_ = nullptr;
};

}  // namespace replug

#endif
