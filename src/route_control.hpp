// What the admin endpoints, the reloader and watch mode ask of the routes,
// whoever serves them: the registry of a single process, or the master on
// behalf of its workers. And the reports they answer with.
#ifndef REPLUG_ROUTE_CONTROL_HPP
#define REPLUG_ROUTE_CONTROL_HPP

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <sys/types.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"
#include "metrics.hpp"
#include "outcome.hpp"

namespace replug {

// What one reload did to one route.
struct swap_report {
    std::string pattern;
    std::string module;
    std::string file;
    std::string old_version;  // empty when the route is new
    std::uint64_t old_generation = 0;
    std::string new_version;
    std::uint64_t new_generation = 0;
    double load_milliseconds = 0;
    std::string old_sha256;  // of the bytes each version loaded; empty when unknown
    std::string new_sha256;
};

// A version as status shows it.
struct version_status {
    std::string version;
    std::uint64_t generation = 0;
    std::string file;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::chrono::system_clock::time_point loaded_at;
    double load_milliseconds = 0;
    std::int64_t in_flight = 0;
    std::string sha256;  // of the bytes loaded
};

// Everything status and metrics show of one route.
struct route_status {
    route_spec spec;
    version_status current;
    std::optional<version_status> previous;
    std::vector<version_status> draining;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::int64_t in_flight = 0;
    std::uint64_t rejected = 0;  // 503 at the --max-in-flight cap
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_failed = 0;
    bool last_reload_failed = false;  // the latest load of the route failed (it kept its old version)
    std::uint64_t crashes = 0;  // workers that died in this route's handler (worker processes only)
    std::uint64_t timeouts = 0;  // handler calls past the route's --handler-timeout (answered 504 or cut)
    std::uint64_t slow_requests = 0;  // handler calls past --slow-log
    histogram_snapshot latency_seconds;
    std::string last_error;
    std::chrono::system_clock::time_point last_error_at;
};

// Why a worker process ended, as status shows it for the one after it in
// its slot. REASON: "crash" (DETAIL: the signal), "exit" (DETAIL: "status
// N"), "killed" (by the master: it failed to start or lost step; DETAIL:
// the signal), "timeout" (a handler ran past its timeout), "recycled"
// (DETAIL: the limit, "max-requests", "max-rss" or "max-lifetime").
struct worker_end {
    std::string reason;
    std::string detail;
};

// One worker as status shows it.
struct worker_status {
    unsigned slot = 0;
    pid_t pid = 0;  // 0 while the slot waits for a replacement
    std::string state;  // waiting, starting, serving, stopping; draining: recycled, finishing its requests
    std::chrono::system_clock::time_point started_at;
    double age_seconds = 0;
    std::uint64_t requests = 0;  // served by this process
    std::uint64_t rss_kib = 0;
    std::uint64_t rss_bytes = 0;
    unsigned busy_threads = 0;
    std::string previous_exit;  // why the worker before it in this slot ended, as waitpid said
    std::optional<worker_end> previous_end;  // the same, classified
};

// What bounds the workers and the routes beside the route table; SIGHUP
// applies them with the table.
struct serving_limits {
    recycle_limits recycle;  // worker processes only
    std::vector<std::pair<std::string, unsigned>> max_in_flight;  // route pattern, cap
};

struct reload_options {
    bool force = false;
    // Everything a reload does up to the swap (resolve, check, seal, load,
    // load hook, state import), and then not the swap: the new version is
    // unloaded again and the route, its counters and its last error stay as
    // they were. The report says what the reload would do.
    bool check = false;
};

class route_control {
public:
    virtual ~route_control() = default;

    // Resolves and loads every route of SPECS against SEARCH_PATH and, only
    // if all of them load, makes them the route table (routes that stay keep
    // their counters, and their old version becomes the rollback target).
    // On failure nothing changes and the reason names the route.
    virtual outcome<std::vector<swap_report>> apply(const std::vector<route_spec>& specs,
                                                    const std::vector<std::filesystem::path>& search_path) = 0;

    // Reloads the route whose pattern is PATTERN from the file its module
    // resolves to now. not_found for an unknown route; on any other failure
    // the route keeps serving its old version. Bytes that were rolled back
    // automatically are refused unless OPTIONS.force. With OPTIONS.check,
    // nothing is swapped (see reload_options).
    virtual outcome<swap_report> reload(std::string_view pattern, reload_options options = {}) = 0;

    // Swaps the route back to its previous version; conflict when it has none.
    virtual outcome<swap_report> rollback(std::string_view pattern) = 0;

    // Every route of the table, in the order they were configured.
    virtual std::vector<route_status> status() const = 0;

    // How long loads that became a swap took (load, checks and hooks).
    virtual histogram_snapshot swap_seconds() const = 0;

    // Every route's pattern and the files its module could resolve to, in
    // search order: what watch mode keeps an eye on.
    virtual std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> watch_list() const = 0;

    // Applies LIMITS from now on. Caps naming no route are ignored (the
    // config refuses them).
    virtual void set_limits(const serving_limits& limits) = 0;
};

}  // namespace replug

#endif
