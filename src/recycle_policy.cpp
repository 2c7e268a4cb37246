#include "recycle_policy.hpp"

namespace replug {

namespace {

std::uint64_t spread(std::uint64_t limit, unsigned slot, unsigned workers) {
    if (limit == 0 || workers == 0) return limit;
    return limit + static_cast<std::uint64_t>(slot) * limit / (2 * static_cast<std::uint64_t>(workers));
}

}  // namespace

std::uint64_t requests_limit(const recycle_limits& limits, unsigned slot, unsigned workers) {
    return spread(limits.max_requests, slot, workers);
}

std::chrono::seconds lifetime_limit(const recycle_limits& limits, unsigned slot, unsigned workers) {
    return std::chrono::seconds(
        static_cast<std::chrono::seconds::rep>(spread(static_cast<std::uint64_t>(limits.max_lifetime.count()), slot, workers)));
}

std::optional<std::string_view> limit_reached(const recycle_limits& limits, const worker_reading& worker) {
    if (limits.max_requests && worker.served >= requests_limit(limits, worker.slot, worker.workers))
        return "max-requests";
    if (limits.max_rss_mib && worker.resident_bytes > limits.max_rss_mib * 1024 * 1024) return "max-rss";
    if (limits.max_lifetime.count() && worker.age >= lifetime_limit(limits, worker.slot, worker.workers))
        return "max-lifetime";
    return std::nullopt;
}

}  // namespace replug
