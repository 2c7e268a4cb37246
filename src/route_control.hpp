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
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_failed = 0;
    bool last_reload_failed = false;  // the latest load of the route failed (it kept its old version)
    std::uint64_t crashes = 0;  // workers that died in this route's handler (worker processes only)
    histogram_snapshot latency_seconds;
    std::string last_error;
    std::chrono::system_clock::time_point last_error_at;
};

// One worker as status shows it.
struct worker_status {
    unsigned slot = 0;
    pid_t pid = 0;  // 0 while the slot waits for a replacement
    std::string state;
    std::chrono::system_clock::time_point started_at;
    std::uint64_t requests = 0;
    std::uint64_t rss_kib = 0;
    unsigned busy_threads = 0;
    std::string previous_exit;  // why the worker before it in this slot ended
};

struct reload_options {
    bool force = false;
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
    // automatically are refused unless OPTIONS.force.
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
};

}  // namespace replug

#endif
