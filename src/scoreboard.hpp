// The scoreboard: what every worker process is doing and has counted, in one
// shared memory region (a memfd) that the master creates and every worker
// maps. A worker writes only its own slots; the master reads them all: it
// sums them for status and metrics, and reads a dead worker's slots to learn
// what it was doing when it died.
//
// Everything in the region is a lock-free std::atomic (lock-free atomics are
// address-free, so one object works through two mappings at different
// addresses), standard layout, and no pointer: addresses differ per process.
// What a worker wrote is data, not truth: a bug in a module can scribble on
// the region, so the master checks every index it reads from it.
#ifndef REPLUG_SCOREBOARD_HPP
#define REPLUG_SCOREBOARD_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "metrics.hpp"
#include "outcome.hpp"
#include "unique_fd.hpp"

namespace replug {

// A latency histogram with histogram::latency_buckets, in shared memory. The
// bounds are this binary's constant, never stored in the region.
class shared_histogram {
public:
    void observe(double seconds) noexcept;
    // Bounds: &histogram::latency_buckets.
    histogram_snapshot snapshot() const noexcept;

private:
    friend class scoreboard;
    std::array<std::atomic<std::uint64_t>, 13> counts_;
    std::atomic<std::uint64_t> sum_nanoseconds_;
};

enum class worker_state : std::uint32_t { empty = 0, starting, serving, draining };

// One worker process. The master writes pid, started and state when it
// starts or drains the worker; the worker writes state (serving) and counts
// requests.
struct alignas(64) worker_slot {
    std::atomic<std::int32_t> pid;
    std::atomic<worker_state> state;
    std::atomic<std::uint64_t> started_unix_ns;
    std::atomic<std::uint64_t> requests;  // served by this slot, across the processes that held it
};

enum class thread_state : std::uint32_t {
    idle = 0,    // between requests (route_slot and generation name the last one)
    in_handler,  // calling a handler: route_slot, generation and started say which, since when
    crashed,     // died of signal_number inside that handler call
};

// CLOCK_MONOTONIC in nanoseconds: the clock of started_monotonic_ns below,
// the same in every process. A vDSO read, no system call where the vDSO
// serves it.
std::uint64_t monotonic_nanoseconds() noexcept;

// One reading of a thread slot, taken between two writes of its owner.
struct thread_reading {
    thread_state state = thread_state::idle;
    std::uint32_t route_slot = 0;  // from the region: check it against max_routes before use
    std::uint64_t generation = 0;
    std::uint64_t started_monotonic_ns = 0;  // CLOCK_MONOTONIC, when the handler call began
    // The call's handler timeout (0: none): past started + timeout + grace,
    // the master takes its worker for wedged and kills it.
    std::uint64_t timeout_ns = 0;
    // The signal the thread died of, set by the last-gasp handler (0: none).
    // With state idle: it died outside any handler (in the server's code).
    int signal_number = 0;
};

// One thread of one worker. Only that thread writes it (begin/end on every
// request, mark_crashed from its signal handler); anyone may read it.
class alignas(64) thread_slot {
public:
    // The thread calls the handler of ROUTE_SLOT's version GENERATION now,
    // with TIMEOUT_NS as its handler timeout (0: none), started at
    // STARTED_MONOTONIC_NS (CLOCK_MONOTONIC; 0: now, read here). A few
    // release stores, and a clock read without STARTED_MONOTONIC_NS.
    // REQUIRES: the owning thread.
    void begin(std::uint32_t route_slot, std::uint64_t generation, std::uint64_t timeout_ns = 0,
               std::uint64_t started_monotonic_ns = 0) noexcept;
    // The handler call returned (or threw). REQUIRES: the owning thread.
    void end() noexcept;
    // The thread dies of SIGNAL: crashed if it was in a handler, else it
    // stays idle; the signal is kept either way. Async-signal-safe.
    // REQUIRES: the owning thread (its signal handler).
    void mark_crashed(int signal) noexcept;

    // A consistent reading (all fields from one write), waiting for a write in
    // progress; if the owner stopped between the two halves of a write for
    // good (SIGKILL), after 100 ms the fields may come from two writes. Any
    // thread, any process.
    thread_reading read() const noexcept;

private:
    friend class scoreboard;
    void clear() noexcept;

    // A sequence lock: odd while the owner writes. Readers retry on a change.
    std::atomic<std::uint64_t> sequence_;
    std::atomic<thread_state> state_;
    std::atomic<std::uint32_t> route_slot_;
    std::atomic<std::uint64_t> generation_;
    std::atomic<std::uint64_t> started_monotonic_ns_;
    std::atomic<std::uint64_t> timeout_ns_;
    std::atomic<std::int32_t> signal_;
};

// One route slot's counters in one worker, bumped by that worker's threads
// as route_pin bumps the registry's (a request counts when it starts).
class alignas(64) route_counters {
public:
    // A request starts: counted, and in flight until finished().
    void started() noexcept;
    // The request failed (its handler threw); counted as an error.
    void failed() noexcept;
    // The request that started() ended after SECONDS.
    void finished(double seconds) noexcept;
    // The request was refused (503: its route was at its --max-in-flight cap).
    void rejected() noexcept;
    // A handler call ran past its timeout (the watchdog answered 504 or cut it).
    void timed_out() noexcept;
    // A handler call ran past the --slow-log threshold.
    void slow() noexcept;

    std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
    std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
    std::int64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
    std::uint64_t rejections() const noexcept { return rejected_.load(std::memory_order_relaxed); }
    std::uint64_t timeouts() const noexcept { return timeouts_.load(std::memory_order_relaxed); }
    std::uint64_t slow_requests() const noexcept { return slow_.load(std::memory_order_relaxed); }
    const shared_histogram& latency() const noexcept { return latency_; }

private:
    friend class scoreboard;
    std::atomic<std::uint64_t> requests_;
    std::atomic<std::uint64_t> errors_;
    std::atomic<std::int64_t> in_flight_;
    std::atomic<std::uint64_t> rejected_;
    std::atomic<std::uint64_t> timeouts_;
    std::atomic<std::uint64_t> slow_;
    shared_histogram latency_;
};

// One route's requests inside its handler now, over every worker, against
// its --max-in-flight cap: the one counter all workers share (one per route
// slot). Every request enters and leaves, capped or not, so that the count
// is right whenever a cap is set (SIGHUP). The master sets the cap; when a
// worker dies, reset_worker() lets go of what its threads held.
class alignas(64) route_gate {
public:
    // True: the request may call the handler (counted until leave()).
    // False: the route is at its cap (nothing is held).
    bool enter() noexcept;
    // REQUIRES: a true enter() before, not yet left.
    void leave() noexcept;
    // 0: no cap.
    void set_cap(std::uint32_t cap) noexcept { cap_.store(cap, std::memory_order_relaxed); }
    std::uint32_t cap() const noexcept { return cap_.load(std::memory_order_relaxed); }
    std::int64_t inside() const noexcept { return inside_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> inside_;
    std::atomic<std::uint32_t> cap_;
};

// A route slot summed over every worker slot: what status and metrics show.
struct route_total {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::int64_t in_flight = 0;
    std::uint64_t rejected = 0;  // refused at the --max-in-flight cap
    std::uint64_t timeouts = 0;
    std::uint64_t slow_requests = 0;
    histogram_snapshot latency_seconds;
};

class scoreboard {
public:
    // Route slots per worker; the master assigns one per route pattern.
    static constexpr std::uint32_t max_routes = 1024;

    // The master's board for WORKERS worker slots of THREADS_PER_WORKER
    // threads each, zeroed, in a new memfd (close-on-exec: the spawner dup2s
    // it to the worker's fixed number, which clears the flag). Its size is
    // sealed, so a worker cannot shrink it under the master. Fails with the
    // reason when a count is 0 or too large, or memfd/mmap fails.
    static outcome<scoreboard> create(unsigned workers, unsigned threads_per_worker);

    // A worker's view of the board the master created, from FD (inherited).
    // Borrows FD: the mapping stays when the caller closes it. Fails with the
    // reason when FD is not a scoreboard of this build's layout (magic,
    // layout version, slot sizes, counts and file size are checked).
    static outcome<scoreboard> attach(int fd);

    scoreboard(scoreboard&& other) noexcept;
    scoreboard& operator=(scoreboard&& other) noexcept;
    scoreboard(const scoreboard&) = delete;
    scoreboard& operator=(const scoreboard&) = delete;
    ~scoreboard();  // unmaps; the memfd closes with a created board

    // The memfd for a worker to inherit; -1 for an attached board.
    int fd() const noexcept { return fd_.get(); }
    unsigned workers() const noexcept { return workers_; }
    unsigned threads_per_worker() const noexcept { return threads_; }

    // Nonzero from the master's SIGTERM (or SIGINT) on: the probes then say
    // the server is not ready. The master writes it; workers read it.
    std::atomic<std::uint32_t>& stopping() noexcept;
    // --max-rss in bytes, 0 when off: a worker past twice this after a
    // request retires itself. The master writes it (at start and on reload); workers read it.
    std::atomic<std::uint64_t>& max_rss_bytes() noexcept;

    // REQUIRES: WORKER < workers(), THREAD < threads_per_worker(),
    // ROUTE_SLOT < max_routes.
    worker_slot& worker(unsigned worker) noexcept;
    const worker_slot& worker(unsigned worker) const noexcept;
    thread_slot& thread(unsigned worker, unsigned thread) noexcept;
    const thread_slot& thread(unsigned worker, unsigned thread) const noexcept;
    route_counters& counters(unsigned worker, std::uint32_t route_slot) noexcept;
    const route_counters& counters(unsigned worker, std::uint32_t route_slot) const noexcept;
    // ROUTE_SLOT's gate, shared by every worker. REQUIRES: ROUTE_SLOT < max_routes.
    route_gate& gate(std::uint32_t route_slot) noexcept;
    const route_gate& gate(std::uint32_t route_slot) const noexcept;

    // ROUTE_SLOT's counters summed over every worker slot. REQUIRES: ROUTE_SLOT < max_routes.
    route_total route_totals(std::uint32_t route_slot) const noexcept;

    // Readies slot WORKER for a new process after the one that held it died:
    // its thread slots are cleared and its in_flight counts zeroed (those
    // requests died with it); requests, errors, timeouts, slow requests and
    // latency are kept, so the
    // totals lose nothing; pid, state and started are cleared (empty).
    // REQUIRES: WORKER < workers(), and no live process writes the slot.
    void reset_worker(unsigned worker) noexcept;

    // Zeroes ROUTE_SLOT's counters in every worker slot, for a route that
    // takes over a slot another route left. REQUIRES: ROUTE_SLOT <
    // max_routes, and no request of the route that left is still running.
    void clear_route(std::uint32_t route_slot) noexcept;

private:
    scoreboard(unique_fd fd, void* base, std::size_t size, unsigned workers, unsigned threads) noexcept;

    unique_fd fd_;
    void* base_ = nullptr;
    std::size_t size_ = 0;
    unsigned workers_ = 0;
    unsigned threads_ = 0;
};

}  // namespace replug

#endif
