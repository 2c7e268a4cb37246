// Routes -> the module version each one serves now, and what each route has
// counted. A request takes one pin (registry::pin): it holds the version it
// started on until it ends, and the pin does the route's accounting. The
// request path reads without locks (two atomic shared_ptr loads: the table,
// the version); every change is a transaction under one mutex that the
// request path never takes: resolve -> load -> check -> commit (atomic
// exchange) -> the old version drains and is unloaded when its last request
// lets go.
#ifndef REPLUG_REGISTRY_HPP
#define REPLUG_REGISTRY_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "outcome.hpp"
#include "resolver.hpp"
#include "route_control.hpp"
#include "router.hpp"
#include "scoreboard.hpp"
#include "thread_safety.hpp"

namespace replug {

// One route as requests see it: the version it serves and its counters.
// Found by its pattern, which never changes; a SIGHUP that keeps the pattern
// keeps the route and its counters.
class route {
public:
    // COUNTERS: where the route counts its requests (a worker's scoreboard
    // slot, SLOT); null: counters of its own. GATE: where its requests
    // count against its --max-in-flight cap (the scoreboard's, shared by
    // every worker); null: a gate of its own.
    route(std::string pattern, std::uint32_t slot, route_counters* counters, route_gate* gate = nullptr)
        : pattern(std::move(pattern)),
          slot_(slot),
          own_counters_(counters ? nullptr : std::make_unique<route_counters>()),
          counters_(counters ? *counters : *own_counters_),
          own_gate_(gate ? nullptr : std::make_unique<route_gate>()),
          gate_(gate ? *gate : *own_gate_) {}

    const std::string pattern;

private:
    friend class registry;
    friend class route_pin;

    const std::uint32_t slot_;
    std::unique_ptr<route_counters> own_counters_;
    route_counters& counters_;  // requests, errors, in flight, latency
    std::unique_ptr<route_gate> own_gate_;
    route_gate& gate_;
    std::atomic<std::shared_ptr<module_version>> current_;
    std::atomic<std::uint64_t> reloads_ok_{0};  // every version that became current, the first included
    std::atomic<std::uint64_t> reloads_failed_{0};
    std::atomic<std::int64_t> unavailable_until_{0};  // unix seconds; see route_install
    // From its route_spec, as the last table set them (0: off).
    std::atomic<std::int64_t> timeout_ms_{0};
    std::atomic<std::int64_t> slow_log_ms_{0};
};

// An immutable snapshot of the route table; a new one replaces it whole.
// A table's settings change only with the table (SIGHUP, POST reload), all
// routes at once.
struct route_table {
    router paths;
    std::vector<std::shared_ptr<route>> routes;  // indexed as router::match answers
    std::vector<route_settings> settings;        // each route's --route-setting pairs, indexed alike
};

// A request's hold on its route: the version it runs in stays loaded, and
// the route counts it (requests, in flight, errors, latency), until the pin
// is destroyed. Made by registry::pin; movable, not copyable.
class route_pin {
public:
    route_pin(route_pin&& other) noexcept = default;
    route_pin& operator=(route_pin&&) = delete;
    ~route_pin();

    const std::string& pattern() const { return route_->pattern; }
    const module_version& version() const { return *version_; }
    // The route's settings in the table the request started with.
    const route_settings& settings() const { return *settings_; }
    // The route's slot on a worker's scoreboard (0 in a single process).
    std::uint32_t slot() const { return route_->slot_; }
    // Seconds the route refuses requests for (answer 503 with Retry-After); 0: it serves.
    std::int64_t unavailable_for() const;
    // The route's handler timeout and slow-log threshold when the request
    // started (0: off).
    std::chrono::milliseconds handler_timeout() const { return timeout_; }
    // When the request was routed (steady_clock, which is CLOCK_MONOTONIC):
    // the start its timeout counts from, read once for the scoreboard and
    // the watchdog too (a clock read can be a system call in a VM).
    std::chrono::steady_clock::time_point started() const { return started_; }
    std::chrono::milliseconds slow_log() const { return slow_log_; }
    // Counts a handler call of this request past its timeout, or past the
    // slow-log threshold, on the route. Any thread, while the pin lives.
    void count_timeout() const { route_->counters_.timed_out(); }
    void count_slow() const { route_->counters_.slow(); }

    // Enters the route's --max-in-flight gate: false when the route is at
    // its cap (the request is counted as rejected; answer 503). The pin
    // leaves the gate in leave_gate() or, at the latest, when destroyed.
    bool enter_gate();
    void leave_gate();

    // What a handler threw, read while the version was still pinned (the
    // exception object may live in the module's code).
    struct exception_text {
        std::string what;
        // A replug::bad_request: the client's fault, answered 400 and not
        // counted as the route's error.
        bool bad_request = false;
    };
    // Calls the pinned handler. When it throws, the route counts an error
    // (but for bad_request) and the exception's text comes back; the caller
    // answers 500 (400).
    std::optional<exception_text> call(request& req, response& res);

private:
    friend class registry;
    route_pin(std::shared_ptr<route> target, const route_settings* settings,
              std::shared_ptr<module_version> version);

    std::shared_ptr<route> route_;  // shares ownership of the table it came from
    const route_settings* settings_;  // in that table
    std::shared_ptr<module_version> version_;
    std::chrono::steady_clock::time_point started_;
    bool in_gate_ = false;
    std::chrono::milliseconds timeout_;
    std::chrono::milliseconds slow_log_;
};

// One route of a table that the master installs in a worker.
struct route_install {
    route_spec spec;
    std::uint64_t generation = 0;
    // The version's checked bytes. Absent when this process holds that
    // generation of the route already (as its current or previous version):
    // that copy is taken as it is.
    std::optional<sealed_module> module;
    std::uint32_t slot = 0;  // where the route counts, on the scoreboard
    // Until when (unix seconds) the route answers 503 instead (0: it serves).
    std::int64_t unavailable_until = 0;
};

// A route table loaded and checked (load hooks and state imports run), not
// yet serving: made by registry::stage, made current by registry::commit,
// unloaded again when dropped.
class staged_table {
public:
    std::size_t size() const { return routes_.size(); }
    // The version staged for route I (in the order given to stage).
    const module_version& version(std::size_t i) const { return *versions_[i]; }
    // True when route I's version was held already (nothing was loaded for it).
    bool reused(std::size_t i) const { return reused_[i]; }

private:
    friend class registry;
    std::vector<route_spec> specs_;
    std::vector<std::shared_ptr<route>> routes_;
    std::vector<std::shared_ptr<module_version>> versions_;
    std::vector<bool> reused_;
    std::vector<std::int64_t> unavailable_until_;
    std::uint64_t base_ = 0;  // the registry's change count it was staged against
};

// The routes of one process. Single-process mode serves them directly; in a
// worker, the master sends the tables it installs (see stage and commit).
class registry final : public route_control {
public:
    // Where a worker's routes count: a route slot's counters and gate on
    // its scoreboard. Without one, each route has counters of its own.
    struct route_places {
        route_counters* counters = nullptr;
        route_gate* gate = nullptr;
    };
    using counter_source = std::function<route_places(std::uint32_t slot)>;

    // Swaps are logged at SWAPS_LOGGED_AT.
    registry(loader& modules, const logger& log, counter_source counters = {},
             log_level swaps_logged_at = log_level::info);

    // Pins the route PATH is routed to now, and its current version; nullopt
    // when no route takes PATH. Lock-free.
    std::optional<route_pin> pin(std::string_view path) const;

    // Loads every route of TABLE that this process does not hold yet, runs
    // its load hook and state import; nothing serves it until commit. The
    // failure names the route. Routes not in TABLE are removed by commit.
    outcome<staged_table> stage(std::vector<route_install> table) EXCLUDES(mutex_);

    // Makes STAGED the route table, as apply() does once everything loaded.
    // conflict when the table changed since STAGED was staged.
    outcome<std::vector<swap_report>> commit(staged_table staged) EXCLUDES(mutex_);

    // route_control, in this process.
    outcome<std::vector<swap_report>> apply(const std::vector<route_spec>& specs,
                                            const std::vector<std::filesystem::path>& search_path) override
        EXCLUDES(mutex_);
    outcome<swap_report> reload(std::string_view pattern, reload_options options = {}) override EXCLUDES(mutex_);
    outcome<swap_report> rollback(std::string_view pattern) override EXCLUDES(mutex_);
    std::vector<route_status> status() const override EXCLUDES(mutex_);
    histogram_snapshot swap_seconds() const override { return swap_seconds_.snapshot(); }
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> watch_list() const override
        EXCLUDES(mutex_);
    // Only the --max-in-flight caps apply in one process (there are no
    // worker processes to recycle).
    void set_limits(const serving_limits& limits) override EXCLUDES(mutex_);

private:
    // What a reload needs to know of a route, beyond what requests touch.
    struct route_books {
        route_spec spec;
        std::shared_ptr<module_version> previous;  // kept loaded for rollback
        std::vector<std::weak_ptr<module_version>> draining;
        std::uint64_t next_generation = 1;
        std::string last_error;
        std::chrono::system_clock::time_point last_error_at;
        bool last_reload_failed = false;
    };

    std::shared_ptr<const route_table> table() const { return table_.load(std::memory_order_acquire); }
    std::shared_ptr<route> find(std::string_view pattern) const;
    route_books& books_of(const route& target) REQUIRES(mutex_);
    // VERSION (may be null) drains: the last request pinning it unloads it.
    static void retire(route_books& books, std::shared_ptr<module_version> version);
    swap_report commit(route& target, std::shared_ptr<module_version> version) REQUIRES(mutex_);
    std::vector<swap_report> install(staged_table staged) REQUIRES(mutex_);
    // Sets the gate cap of every route of TABLE from caps_.
    void publish_caps(const route_table& table) REQUIRES(mutex_);
    // What swapping CANDIDATE in for TARGET's current version would do (reload_options::check).
    swap_report checked(const route& target, const module_version& candidate) REQUIRES(mutex_);
    // Counts a failed load of TARGET and keeps WHY for status.
    void record_failure(route& target, const std::string& why) REQUIRES(mutex_);

    loader& loader_;
    const logger& log_;
    counter_source counter_source_;
    log_level swaps_logged_at_;
    mutable mutex mutex_;  // serializes every change; never taken by requests
    resolver resolver_ GUARDED_BY(mutex_);
    std::map<std::string, route_books, std::less<>> books_ GUARDED_BY(mutex_);  // by pattern
    std::atomic<std::shared_ptr<const route_table>> table_;
    std::uint64_t table_changes_ GUARDED_BY(mutex_) = 0;
    std::vector<std::pair<std::string, unsigned>> caps_ GUARDED_BY(mutex_);
    histogram swap_seconds_{histogram::swap_buckets};
};

}  // namespace replug

#endif
