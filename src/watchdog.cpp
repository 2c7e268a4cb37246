#include "watchdog.hpp"

#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "last_gasp.hpp"
#include "scoreboard.hpp"

namespace replug {

// A serving thread's cell. The thread writes the call's fields, then makes
// the sequence odd (release); at the end it makes it even and waits while
// the watchdog holds the cell. The watchdog holds it, then checks that the
// sequence did not move: with both sides sequentially consistent, either
// the watchdog sees the call ended (and lets go) or the thread sees the
// hold (and waits).
struct alignas(64) watchdog::cell {
    std::atomic<std::uint64_t> sequence{0};  // odd while a call runs
    std::atomic<bool> held{false};
    std::atomic<response_owner> owner{response_owner::open};
    std::atomic<std::uint64_t> started_ns{0};
    std::atomic<std::uint64_t> timeout_ns{0};  // 0: none
    std::atomic<std::uint64_t> slow_ns{0};     // 0: none
    std::atomic<int> connection{-1};
    std::atomic<int> request_id{0};
    std::atomic<const route_pin*> pin{nullptr};
    std::atomic<pid_t> thread{0};
    // The watchdog thread's own: the calls (sequence values) it has dealt with.
    std::uint64_t timed_out_call = 0;
    std::uint64_t slow_call = 0;
};

namespace {

using namespace std::chrono_literals;

constexpr auto scan_interval = 100ms;

constexpr std::string_view gateway_timeout =
    "Status: 504 Gateway Timeout\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Gateway Timeout: the handler did not answer in time\n";

constinit thread_local watchdog::cell* current_cell = nullptr;

std::string seconds_text(double seconds) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(seconds < 10 ? 3 : 1) << seconds << "s";
    return text.str();
}

std::string first_word_of(const std::string& file) {
    std::ifstream input(file);
    std::string word;
    if (!(input >> word)) return "?";
    return word;
}

// What the log shows of one call, read while the cell is held.
struct call_facts {
    std::string route;
    std::string module;
    std::string version;
    std::uint64_t generation = 0;
};

call_facts facts_of(const route_pin& pin) {
    const auto& version = pin.version();
    return {pin.pattern(), version.origin().module, version.version(), version.generation()};
}

}  // namespace

thread_whereabouts whereabouts_of(pid_t thread) {
    std::string task = "/proc/self/task/" + std::to_string(thread) + "/";
    // syscall: "running", or "NR ARG1 ... SP PC" when blocked ("-1 SP PC": blocked outside a system call).
    return {first_word_of(task + "wchan"), first_word_of(task + "syscall")};
}

watchdog::watchdog(unsigned threads, const logger& log, timeout_hook on_timeout)
    : threads_(threads), log_(log), on_timeout_(std::move(on_timeout)), cells_(std::make_unique<cell[]>(threads)) {
    thread_ = std::thread([this] { run(); });
}

watchdog::~watchdog() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

watchdog::thread_scope::thread_scope(watchdog& owner, unsigned index) noexcept {
    current_cell = &owner.cells_[index];
    current_cell->thread.store(::gettid(), std::memory_order_relaxed);
}

watchdog::thread_scope::~thread_scope() { current_cell = nullptr; }

int watchdog::taken_over() const noexcept {
    int count = 0;
    for (unsigned i = 0; i < threads_; ++i) {
        const auto& each = cells_[i];
        if (each.sequence.load(std::memory_order_acquire) % 2 == 1 &&
            each.owner.load(std::memory_order_acquire) == response_owner::watchdog)
            ++count;
    }
    return count;
}

void watchdog::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, scan_interval, [this] { return stopping_; })) {
        lock.unlock();
        scan();
        lock.lock();
    }
}

void watchdog::scan() {
    std::uint64_t now = monotonic_nanoseconds();
    for (unsigned i = 0; i < threads_; ++i) {
        auto& watched = cells_[i];
        std::uint64_t call = watched.sequence.load(std::memory_order_acquire);
        if (call % 2 == 0) continue;
        std::uint64_t started = watched.started_ns.load(std::memory_order_relaxed);
        std::uint64_t timeout = watched.timeout_ns.load(std::memory_order_relaxed);
        std::uint64_t slow = watched.slow_ns.load(std::memory_order_relaxed);
        bool timed_out = timeout && now >= started + timeout && watched.timed_out_call != call;
        bool is_slow = slow && now >= started + slow && watched.slow_call != call;
        if (!timed_out && !is_slow) continue;

        watched.held.store(true, std::memory_order_seq_cst);
        if (watched.sequence.load(std::memory_order_seq_cst) != call) {  // it ended meanwhile
            watched.held.store(false, std::memory_order_release);
            continue;
        }
        // Held: the call cannot end, and its fields are its own (the reads
        // above were only a filter).
        started = watched.started_ns.load(std::memory_order_relaxed);
        timeout = watched.timeout_ns.load(std::memory_order_relaxed);
        slow = watched.slow_ns.load(std::memory_order_relaxed);
        timed_out = timeout && now >= started + timeout && watched.timed_out_call != call;
        is_slow = slow && now >= started + slow && watched.slow_call != call;
        if (!timed_out && !is_slow) {
            watched.held.store(false, std::memory_order_release);
            continue;
        }
        const route_pin& pin = *watched.pin.load(std::memory_order_relaxed);
        call_facts facts = facts_of(pin);
        bool answered = false;
        if (is_slow) {
            pin.count_slow();
            watched.slow_call = call;
        }
        if (timed_out) {
            // Counted before the client can see the 504: a status read after the answer counts it.
            pin.count_timeout();
            auto before = watched.owner.exchange(response_owner::watchdog, std::memory_order_acq_rel);
            int connection = watched.connection.load(std::memory_order_relaxed);
            if (before == response_owner::open) {
                answered = true;
                send_final_answer(connection, watched.request_id.load(std::memory_order_relaxed), gateway_timeout,
                                  false);
            } else {
                ::shutdown(connection, SHUT_RDWR);  // its response had started: nginx sees it cut short
            }
            watched.timed_out_call = call;
        }
        watched.held.store(false, std::memory_order_release);

        double elapsed = static_cast<double>(now - started) / 1e9;
        pid_t thread = watched.thread.load(std::memory_order_relaxed);
        auto where = whereabouts_of(thread);
        std::string stuck = " thread=" + std::to_string(thread) + " wchan=" + where.wchan + " syscall=" + where.syscall;
        std::string which = "route=" + facts.route + " module=" + facts.module + " version=" + facts.version +
                            " generation=" + std::to_string(facts.generation);
        if (is_slow)
            log_.warn("slow request ", which, " elapsed=", seconds_text(elapsed),
                      " slow_log=", seconds_text(static_cast<double>(slow) / 1e9), stuck);
        if (timed_out) {
            log_.error("handler timeout ", which, " elapsed=", seconds_text(elapsed),
                       " timeout=", seconds_text(static_cast<double>(timeout) / 1e9),
                       answered ? " answered=504" : " answered=cut (the response had started)", stuck,
                       " pid=", ::getpid());
            if (on_timeout_)
                on_timeout_({facts.route, facts.module, facts.version, facts.generation, elapsed,
                             static_cast<double>(timeout) / 1e9, answered});
        }
    }
}

watched_call::watched_call(fcgi_request& request, const route_pin& pin) noexcept : request_(request) {
    auto* watched = current_cell;
    if (!watched) return;
    auto timeout = pin.handler_timeout();
    auto slow = pin.slow_log();
    if (timeout.count() <= 0 && slow.count() <= 0) return;
    cell_ = watched;
    auto nanoseconds = [](std::chrono::milliseconds limit) {
        return limit.count() > 0 ? static_cast<std::uint64_t>(limit.count()) * 1'000'000u : 0;
    };
    cell_->owner.store(response_owner::open, std::memory_order_relaxed);
    cell_->pin.store(&pin, std::memory_order_relaxed);
    cell_->connection.store(request.connection_fd(), std::memory_order_relaxed);
    cell_->request_id.store(request.request_id(), std::memory_order_relaxed);
    cell_->timeout_ns.store(nanoseconds(timeout), std::memory_order_relaxed);
    cell_->slow_ns.store(nanoseconds(slow), std::memory_order_relaxed);
    auto started = std::chrono::duration_cast<std::chrono::nanoseconds>(pin.started().time_since_epoch()).count();
    cell_->started_ns.store(static_cast<std::uint64_t>(started), std::memory_order_relaxed);
    cell_->sequence.store(cell_->sequence.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    request.watch(&cell_->owner);
}

watched_call::~watched_call() {
    if (!cell_) return;
    cell_->sequence.store(cell_->sequence.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    while (cell_->held.load(std::memory_order_seq_cst)) ::sched_yield();
    request_.unwatch();
}

}  // namespace replug
