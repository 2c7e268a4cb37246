#include "scoreboard.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace replug {

namespace {

// "REPLUGSB" read as a little-endian number.
constexpr std::uint64_t board_magic = 0x425347554c504552;
// Bump on any change to the region's layout: a worker from another build
// then refuses the board instead of misreading it.
constexpr std::uint32_t layout_version = 4;
constexpr unsigned max_workers = 1024;
constexpr unsigned max_threads = 1024;

// Written once by create() before any worker exists; magic last. Only
// stopping and max_rss_bytes change later (the master sets them, workers
// read them).
struct alignas(64) board_header {
    std::atomic<std::uint64_t> magic;
    std::atomic<std::uint64_t> size;  // bytes, the whole region
    std::atomic<std::uint32_t> layout_version;
    std::atomic<std::uint32_t> workers;
    std::atomic<std::uint32_t> threads_per_worker;
    std::atomic<std::uint32_t> max_routes;
    std::atomic<std::uint32_t> worker_slot_size;
    std::atomic<std::uint32_t> thread_slot_size;
    std::atomic<std::uint32_t> route_counters_size;
    std::atomic<std::uint32_t> route_gate_size;
    std::atomic<std::uint32_t> stopping;
    std::atomic<std::uint64_t> max_rss_bytes;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::int32_t>::is_always_lock_free &&
                  std::atomic<worker_state>::is_always_lock_free && std::atomic<thread_state>::is_always_lock_free,
              "the scoreboard is shared between processes: only lock-free (address-free) atomics work there");

template <typename T>
constexpr bool fits_shared_memory = std::is_standard_layout_v<T> && std::is_trivially_destructible_v<T>;
static_assert(fits_shared_memory<board_header> && fits_shared_memory<worker_slot> &&
              fits_shared_memory<thread_slot> && fits_shared_memory<route_counters> &&
              fits_shared_memory<route_gate>);

// Where each array starts: header, worker slots, thread slots (worker-major),
// route counters (worker-major), route gates. Every size is a multiple of 64 (alignas).
struct layout {
    std::size_t workers_at = 0;
    std::size_t threads_at = 0;
    std::size_t counters_at = 0;
    std::size_t gates_at = 0;
    std::size_t size = 0;
};

constexpr layout layout_for(std::size_t workers, std::size_t threads) {
    layout where;
    where.workers_at = sizeof(board_header);
    where.threads_at = where.workers_at + workers * sizeof(worker_slot);
    where.counters_at = where.threads_at + workers * threads * sizeof(thread_slot);
    where.gates_at = where.counters_at + workers * scoreboard::max_routes * sizeof(route_counters);
    where.size = where.gates_at + scoreboard::max_routes * sizeof(route_gate);
    return where;
}

template <typename T>
T* object_at(void* base, std::size_t offset) {
    // The region is zero-filled by ftruncate and a zero bit pattern is each
    // atomic's value 0: the objects are used in place in every process.
    return std::launder(reinterpret_cast<T*>(static_cast<char*>(base) + offset));
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

void shared_histogram::observe(double seconds) noexcept {
    if (!(seconds > 0)) seconds = 0;  // and NaN
    seconds = std::min(seconds, 1e9);
    counts_[bucket_index(histogram::latency_buckets, seconds)].fetch_add(1, std::memory_order_relaxed);
    sum_nanoseconds_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

histogram_snapshot shared_histogram::snapshot() const noexcept {
    histogram_snapshot taken;
    taken.bounds = &histogram::latency_buckets;
    for (std::size_t i = 0; i < counts_.size(); ++i) taken.counts[i] = counts_[i].load(std::memory_order_relaxed);
    taken.sum_seconds = static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) / 1e9;
    return taken;
}

// A write: the sequence goes odd, the fields are stored with release (so a
// reader that sees a new field also sees the odd sequence), and it goes even
// again. A write that interrupts another on the same thread (the signal
// handler) finds it odd and finishes it.
void thread_slot::begin(std::uint32_t route_slot, std::uint64_t generation, std::uint64_t timeout_ns,
                        std::uint64_t started_monotonic_ns) noexcept {
    std::uint64_t odd = sequence_.load(std::memory_order_relaxed) | 1;
    sequence_.store(odd, std::memory_order_relaxed);
    route_slot_.store(route_slot, std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
    timeout_ns_.store(timeout_ns, std::memory_order_release);
    started_monotonic_ns_.store(started_monotonic_ns ? started_monotonic_ns : monotonic_nanoseconds(),
                                std::memory_order_release);
    state_.store(thread_state::in_handler, std::memory_order_release);
    sequence_.store(odd + 1, std::memory_order_release);
}

void thread_slot::end() noexcept {
    std::uint64_t odd = sequence_.load(std::memory_order_relaxed) | 1;
    sequence_.store(odd, std::memory_order_relaxed);
    state_.store(thread_state::idle, std::memory_order_release);
    sequence_.store(odd + 1, std::memory_order_release);
}

void thread_slot::mark_crashed(int signal) noexcept {
    std::uint64_t odd = sequence_.load(std::memory_order_relaxed) | 1;
    sequence_.store(odd, std::memory_order_relaxed);
    if (state_.load(std::memory_order_relaxed) == thread_state::in_handler)
        state_.store(thread_state::crashed, std::memory_order_release);
    signal_.store(signal, std::memory_order_release);
    sequence_.store(odd + 1, std::memory_order_release);
}

void thread_slot::clear() noexcept {
    std::uint64_t odd = sequence_.load(std::memory_order_relaxed) | 1;
    sequence_.store(odd, std::memory_order_relaxed);
    state_.store(thread_state::idle, std::memory_order_release);
    route_slot_.store(0, std::memory_order_release);
    generation_.store(0, std::memory_order_release);
    started_monotonic_ns_.store(0, std::memory_order_release);
    timeout_ns_.store(0, std::memory_order_release);
    signal_.store(0, std::memory_order_release);
    sequence_.store(odd + 1, std::memory_order_release);
}

thread_reading thread_slot::read() const noexcept {
    // A live owner finishes a write in nanoseconds, unless it is preempted
    // halfway: spin a little, then yield to it. One killed halfway through
    // never finishes: give up after a while.
    constexpr int spins = 64;
    constexpr std::uint64_t patience_ns = 100'000'000;
    thread_reading taken;
    std::uint64_t deadline = 0;
    for (int attempt = 0;; ++attempt) {
        std::uint64_t before = sequence_.load(std::memory_order_acquire);
        taken.state = state_.load(std::memory_order_acquire);
        taken.route_slot = route_slot_.load(std::memory_order_acquire);
        taken.generation = generation_.load(std::memory_order_acquire);
        taken.started_monotonic_ns = started_monotonic_ns_.load(std::memory_order_acquire);
        taken.timeout_ns = timeout_ns_.load(std::memory_order_acquire);
        taken.signal_number = signal_.load(std::memory_order_acquire);
        std::uint64_t after = sequence_.load(std::memory_order_relaxed);
        if (before == after && before % 2 == 0) return taken;
        if (attempt < spins) continue;
        std::uint64_t now = monotonic_nanoseconds();
        if (deadline == 0) deadline = now + patience_ns;
        if (now >= deadline) return taken;
        ::sched_yield();
    }
}

void route_counters::started() noexcept {
    requests_.fetch_add(1, std::memory_order_relaxed);
    in_flight_.fetch_add(1, std::memory_order_relaxed);
}

void route_counters::rejected() noexcept { rejected_.fetch_add(1, std::memory_order_relaxed); }

bool route_gate::enter() noexcept {
    auto inside = inside_.fetch_add(1, std::memory_order_acq_rel) + 1;
    auto cap = cap_.load(std::memory_order_relaxed);
    if (cap == 0 || inside <= static_cast<std::int64_t>(cap)) return true;
    inside_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
}

void route_gate::leave() noexcept { inside_.fetch_sub(1, std::memory_order_acq_rel); }

void route_counters::failed() noexcept { errors_.fetch_add(1, std::memory_order_relaxed); }

void route_counters::finished(double seconds) noexcept {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    latency_.observe(seconds);
}

void route_counters::timed_out() noexcept { timeouts_.fetch_add(1, std::memory_order_relaxed); }

void route_counters::slow() noexcept { slow_.fetch_add(1, std::memory_order_relaxed); }

outcome<scoreboard> scoreboard::create(unsigned workers, unsigned threads_per_worker) {
    if (workers == 0 || threads_per_worker == 0 || workers > max_workers || threads_per_worker > max_threads)
        return failure{"a scoreboard takes 1 to " + std::to_string(max_workers) + " workers of 1 to " +
                           std::to_string(max_threads) + " threads, not " + std::to_string(workers) +
                           " workers of " + std::to_string(threads_per_worker) + " threads",
                       failure_kind::bad_input};
    layout where = layout_for(workers, threads_per_worker);
    unique_fd fd(::memfd_create("replug-scoreboard", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return failure{"cannot create the scoreboard: memfd_create failed: " + errno_text()};
    if (::ftruncate(fd.get(), static_cast<off_t>(where.size)) != 0)
        return failure{"cannot size the scoreboard to " + std::to_string(where.size) + " bytes: " + errno_text()};
    // A worker (or a module in it) that truncated the board would make the
    // master's reads fault with SIGBUS.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        return failure{"cannot seal the scoreboard's size: " + errno_text()};
    void* base = ::mmap(nullptr, where.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (base == MAP_FAILED)
        return failure{"cannot map the scoreboard (" + std::to_string(where.size) + " bytes): " + errno_text()};
    auto* header = object_at<board_header>(base, 0);
    header->size.store(where.size, std::memory_order_relaxed);
    header->layout_version.store(layout_version, std::memory_order_relaxed);
    header->workers.store(workers, std::memory_order_relaxed);
    header->threads_per_worker.store(threads_per_worker, std::memory_order_relaxed);
    header->max_routes.store(max_routes, std::memory_order_relaxed);
    header->worker_slot_size.store(sizeof(worker_slot), std::memory_order_relaxed);
    header->thread_slot_size.store(sizeof(thread_slot), std::memory_order_relaxed);
    header->route_counters_size.store(sizeof(route_counters), std::memory_order_relaxed);
    header->route_gate_size.store(sizeof(route_gate), std::memory_order_relaxed);
    header->stopping.store(0, std::memory_order_relaxed);
    header->max_rss_bytes.store(0, std::memory_order_relaxed);
    header->magic.store(board_magic, std::memory_order_release);
    return scoreboard(std::move(fd), base, where.size, workers, threads_per_worker);
}

outcome<scoreboard> scoreboard::attach(int fd) {
    std::string which = "fd " + std::to_string(fd);
    struct stat file {};
    if (::fstat(fd, &file) != 0) return failure{"cannot read the scoreboard (" + which + "): " + errno_text()};
    if (file.st_size < static_cast<off_t>(sizeof(board_header)))
        return failure{which + " is not a replug scoreboard: it holds " + std::to_string(file.st_size) +
                       " bytes, fewer than a scoreboard's header (" + std::to_string(sizeof(board_header)) + ")"};
    auto size = static_cast<std::size_t>(file.st_size);
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return failure{"cannot map the scoreboard (" + which + "): " + errno_text()};
    scoreboard board(unique_fd(), base, size, 0, 0);  // unmaps on a refusal

    const auto* header = object_at<board_header>(base, 0);
    if (header->magic.load(std::memory_order_acquire) != board_magic)
        return failure{which + " is not a replug scoreboard: its magic number is wrong"};
    auto read = [](const std::atomic<std::uint32_t>& field) { return field.load(std::memory_order_relaxed); };
    if (read(header->layout_version) != layout_version || read(header->max_routes) != max_routes ||
        read(header->worker_slot_size) != sizeof(worker_slot) ||
        read(header->thread_slot_size) != sizeof(thread_slot) ||
        read(header->route_counters_size) != sizeof(route_counters) ||
        read(header->route_gate_size) != sizeof(route_gate))
        return failure{"the scoreboard in " + which + " has layout version " +
                       std::to_string(read(header->layout_version)) + " (" +
                       std::to_string(read(header->max_routes)) + " routes, slots of " +
                       std::to_string(read(header->worker_slot_size)) + "/" +
                       std::to_string(read(header->thread_slot_size)) + "/" +
                       std::to_string(read(header->route_counters_size)) + " bytes); this binary reads version " +
                       std::to_string(layout_version) + " (" + std::to_string(max_routes) + " routes, slots of " +
                       std::to_string(sizeof(worker_slot)) + "/" + std::to_string(sizeof(thread_slot)) + "/" +
                       std::to_string(sizeof(route_counters)) +
                       " bytes): the master and the worker come from different builds"};
    unsigned workers = read(header->workers);
    unsigned threads = read(header->threads_per_worker);
    if (workers == 0 || threads == 0 || workers > max_workers || threads > max_threads)
        return failure{"the scoreboard in " + which + " claims " + std::to_string(workers) + " workers of " +
                       std::to_string(threads) + " threads, which no master creates"};
    std::size_t expected = layout_for(workers, threads).size;
    if (expected != size || header->size.load(std::memory_order_relaxed) != size)
        return failure{"the scoreboard in " + which + " holds " + std::to_string(size) + " bytes, but " +
                       std::to_string(workers) + " workers of " + std::to_string(threads) + " threads take " +
                       std::to_string(expected) + " (its header says " +
                       std::to_string(header->size.load(std::memory_order_relaxed)) + ")"};
    board.workers_ = workers;
    board.threads_ = threads;
    return board;
}

scoreboard::scoreboard(unique_fd fd, void* base, std::size_t size, unsigned workers, unsigned threads) noexcept
    : fd_(std::move(fd)), base_(base), size_(size), workers_(workers), threads_(threads) {}

scoreboard::scoreboard(scoreboard&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      workers_(std::exchange(other.workers_, 0)),
      threads_(std::exchange(other.threads_, 0)) {}

scoreboard& scoreboard::operator=(scoreboard&& other) noexcept {
    if (this != &other) {
        if (base_) ::munmap(base_, size_);
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
        workers_ = std::exchange(other.workers_, 0);
        threads_ = std::exchange(other.threads_, 0);
    }
    return *this;
}

scoreboard::~scoreboard() {
    if (base_) ::munmap(base_, size_);
}

std::atomic<std::uint32_t>& scoreboard::stopping() noexcept { return object_at<board_header>(base_, 0)->stopping; }

std::atomic<std::uint64_t>& scoreboard::max_rss_bytes() noexcept {
    return object_at<board_header>(base_, 0)->max_rss_bytes;
}

worker_slot& scoreboard::worker(unsigned worker) noexcept {
    assert(worker < workers_);
    return *object_at<worker_slot>(base_, layout_for(workers_, threads_).workers_at + worker * sizeof(worker_slot));
}

const worker_slot& scoreboard::worker(unsigned worker) const noexcept {
    return const_cast<scoreboard*>(this)->worker(worker);
}

thread_slot& scoreboard::thread(unsigned worker, unsigned thread) noexcept {
    assert(worker < workers_ && thread < threads_);
    std::size_t index = std::size_t{worker} * threads_ + thread;
    return *object_at<thread_slot>(base_, layout_for(workers_, threads_).threads_at + index * sizeof(thread_slot));
}

const thread_slot& scoreboard::thread(unsigned worker, unsigned thread) const noexcept {
    return const_cast<scoreboard*>(this)->thread(worker, thread);
}

route_counters& scoreboard::counters(unsigned worker, std::uint32_t route_slot) noexcept {
    assert(worker < workers_ && route_slot < max_routes);
    std::size_t index = std::size_t{worker} * max_routes + route_slot;
    return *object_at<route_counters>(base_,
                                      layout_for(workers_, threads_).counters_at + index * sizeof(route_counters));
}

const route_counters& scoreboard::counters(unsigned worker, std::uint32_t route_slot) const noexcept {
    return const_cast<scoreboard*>(this)->counters(worker, route_slot);
}

route_gate& scoreboard::gate(std::uint32_t route_slot) noexcept {
    assert(route_slot < max_routes);
    return *object_at<route_gate>(base_, layout_for(workers_, threads_).gates_at + route_slot * sizeof(route_gate));
}

const route_gate& scoreboard::gate(std::uint32_t route_slot) const noexcept {
    return const_cast<scoreboard*>(this)->gate(route_slot);
}

route_total scoreboard::route_totals(std::uint32_t route_slot) const noexcept {
    route_total total;
    std::uint64_t sum_nanoseconds = 0;
    for (unsigned w = 0; w < workers_; ++w) {
        const auto& each = counters(w, route_slot);
        total.requests += each.requests();
        total.errors += each.errors();
        total.in_flight += each.in_flight();
        total.rejected += each.rejections();
        total.timeouts += each.timeouts();
        total.slow_requests += each.slow_requests();
        for (std::size_t i = 0; i < total.latency_seconds.counts.size(); ++i)
            total.latency_seconds.counts[i] += each.latency_.counts_[i].load(std::memory_order_relaxed);
        sum_nanoseconds += each.latency_.sum_nanoseconds_.load(std::memory_order_relaxed);
    }
    total.latency_seconds.bounds = &histogram::latency_buckets;
    total.latency_seconds.sum_seconds = static_cast<double>(sum_nanoseconds) / 1e9;
    return total;
}

void scoreboard::reset_worker(unsigned worker) noexcept {
    assert(worker < workers_);
    for (unsigned t = 0; t < threads_; ++t) {
        // A thread inside a handler was inside its route's gate (the
        // dispatcher enters it after begin() and leaves it before end()).
        auto reading = thread(worker, t).read();
        if ((reading.state == thread_state::in_handler || reading.state == thread_state::crashed) &&
            reading.route_slot < max_routes)
            gate(reading.route_slot).leave();
        thread(worker, t).clear();
    }
    for (std::uint32_t r = 0; r < max_routes; ++r)
        counters(worker, r).in_flight_.store(0, std::memory_order_relaxed);
    auto& slot = this->worker(worker);
    slot.pid.store(0, std::memory_order_relaxed);
    slot.started_unix_ns.store(0, std::memory_order_relaxed);
    slot.state.store(worker_state::empty, std::memory_order_release);
}

void scoreboard::clear_route(std::uint32_t route_slot) noexcept {
    assert(route_slot < max_routes);
    for (unsigned w = 0; w < workers_; ++w) {
        auto& route = counters(w, route_slot);
        route.requests_.store(0, std::memory_order_relaxed);
        route.errors_.store(0, std::memory_order_relaxed);
        route.in_flight_.store(0, std::memory_order_relaxed);
        route.rejected_.store(0, std::memory_order_relaxed);
        route.timeouts_.store(0, std::memory_order_relaxed);
        route.slow_.store(0, std::memory_order_relaxed);
        for (auto& count : route.latency_.counts_) count.store(0, std::memory_order_relaxed);
        route.latency_.sum_nanoseconds_.store(0, std::memory_order_relaxed);
    }
}

std::uint64_t monotonic_nanoseconds() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace replug
