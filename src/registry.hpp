// Routes -> the module version each one serves now. The request path reads
// it without locks (two atomic shared_ptr loads: the table, the version);
// every change is a transaction under one mutex that the request path never
// takes: resolve -> load -> check -> commit (atomic exchange) -> the old
// version drains and is unloaded when its last request lets go.
#ifndef REPLUG_REGISTRY_HPP
#define REPLUG_REGISTRY_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loader.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "outcome.hpp"
#include "resolver.hpp"
#include "config.hpp"
#include "router.hpp"

namespace replug {

class route {
public:
    explicit route(route_spec spec) : pattern(spec.pattern), spec_(std::move(spec)) {}

    const std::string pattern;  // a route is found by its pattern, which never changes

    // The version new requests run in. Copying the pointer pins the version.
    std::shared_ptr<module_version> current() const { return current_.load(std::memory_order_acquire); }

    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> reloads_ok{0};  // every version that became current, the first included
    std::atomic<std::uint64_t> reloads_failed{0};
    histogram latency_seconds{histogram::latency_buckets};

private:
    friend class registry;

    route_spec spec_;                                  // under registry::mutex_
    std::atomic<std::shared_ptr<module_version>> current_;
    std::shared_ptr<module_version> previous_;         // kept loaded for rollback
    std::vector<std::weak_ptr<module_version>> draining_;
    std::uint64_t next_generation_ = 1;
    std::string last_error_;
    std::chrono::system_clock::time_point last_error_at_;
};

// An immutable snapshot of the route table; a new one replaces it whole.
struct route_table {
    router paths;
    std::vector<std::shared_ptr<route>> routes;  // indexed as router::match answers

    route* match(std::string_view path) const {
        auto index = paths.match(path);
        return index ? routes[*index].get() : nullptr;
    }
};

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
};

struct route_status {
    route_spec spec;
    version_status current;
    std::optional<version_status> previous;
    std::vector<version_status> draining;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::int64_t in_flight = 0;
    std::string last_error;
    std::chrono::system_clock::time_point last_error_at;
};

class registry {
public:
    registry(loader& modules, const logger& log);

    // The table requests are routed by now. Never null.
    std::shared_ptr<const route_table> table() const { return table_.load(std::memory_order_acquire); }

    // Resolves and loads every route of SPECS against SEARCH_PATH and, only
    // if all of them load, makes them the route table (routes that stay keep
    // their counters, and their old version becomes the rollback target).
    // On failure nothing changes and the reason names the route.
    outcome<std::vector<swap_report>> apply(const std::vector<route_spec>& specs,
                                            const std::vector<std::filesystem::path>& search_path);

    // Reloads the route whose pattern is PATTERN from the file its module
    // resolves to now. not_found for an unknown route; on any other failure
    // the route keeps serving its old version.
    outcome<swap_report> reload(std::string_view pattern);

    // Swaps the route back to its previous version; conflict when it has none.
    outcome<swap_report> rollback(std::string_view pattern);

    std::vector<route_status> status() const;

    // Every route's pattern and the files its module could resolve to, in
    // search order: what watch mode keeps an eye on.
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> watch_list() const;

    // How long loads that became a swap took (load, checks and hooks).
    histogram swap_seconds{histogram::swap_buckets};

private:
    std::shared_ptr<route> find(std::string_view pattern) const;
    void retire(route& target, std::shared_ptr<module_version> version);
    swap_report commit(route& target, std::shared_ptr<module_version> version);
    // Counts a failed load of TARGET and keeps WHY for status.
    void record_failure(route& target, const std::string& why);

    loader& loader_;
    const logger& log_;
    mutable std::mutex mutex_;  // serializes every change; never taken by requests
    resolver resolver_;         // under mutex_
    std::atomic<std::shared_ptr<const route_table>> table_;
};

}  // namespace replug

#endif
