// When the master recycles a worker: it has served its share of requests
// (--max-requests), grown past a resident size (--max-rss), or lived long
// enough (--max-lifetime). A pure policy: it reads no clock and no /proc,
// it is told the facts.
//
// The request and lifetime limits are spread over the worker slots, as
// uWSGI's max-requests-delta does: slot S of W gets LIMIT + S * LIMIT / (2 W),
// so that workers started together do not all reach their limit together
// (with 4 workers and --max-requests 1000: 1000, 1125, 1250, 1375).
#ifndef REPLUG_RECYCLE_POLICY_HPP
#define REPLUG_RECYCLE_POLICY_HPP

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace replug {

// The three limits; 0 turns one off.
struct recycle_limits {
    std::uint64_t max_requests = 0;
    std::uint64_t max_rss_mib = 0;
    std::chrono::seconds max_lifetime{0};

    bool any() const { return max_requests || max_rss_mib || max_lifetime.count(); }
    bool operator==(const recycle_limits&) const = default;
};

// What the master knows of one worker process.
struct worker_reading {
    unsigned slot = 0;      // its logical slot, 0 .. workers - 1
    unsigned workers = 1;   // how many slots there are
    std::uint64_t served = 0;         // requests this process served
    std::uint64_t resident_bytes = 0; // its RSS now
    std::chrono::steady_clock::duration age{};
};

// SLOT's request limit: LIMITS.max_requests spread as above; 0 when off.
// REQUIRES: SLOT < WORKERS.
std::uint64_t requests_limit(const recycle_limits& limits, unsigned slot, unsigned workers);
// SLOT's lifetime limit, spread the same way; zero when off.
std::chrono::seconds lifetime_limit(const recycle_limits& limits, unsigned slot, unsigned workers);

// The limit WORKER has reached ("max-requests", "max-rss", "max-lifetime",
// checked in that order), or nullopt.
std::optional<std::string_view> limit_reached(const recycle_limits& limits, const worker_reading& worker);

}  // namespace replug

#endif
