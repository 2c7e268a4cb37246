// Counters the request path can bump without locks, and their Prometheus
// text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/).
#ifndef REPLUG_METRICS_HPP
#define REPLUG_METRICS_HPP

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace replug {

// The upper bounds of a histogram's buckets, in seconds; +Inf is implied.
using bucket_bounds = std::array<double, 12>;

// The bucket SECONDS is counted in: the first whose bound is >= SECONDS (the
// bounds are inclusive, as Prometheus's `le`), or the last one, +Inf.
std::size_t bucket_index(const bucket_bounds& bounds, double seconds);

// A histogram's counts at one moment: what status and metrics render.
struct histogram_snapshot {
    const bucket_bounds* bounds = nullptr;
    std::array<std::uint64_t, 13> counts{};  // per bucket, not cumulative; the last is +Inf
    double sum_seconds = 0;

    std::uint64_t count() const;
    // Appends NAME's _bucket, _sum and _count lines with LABELS (already
    // escaped, without braces, may be empty).
    void write(std::string& out, std::string_view name, std::string_view labels) const;
};

// A fixed-bucket histogram of seconds.
class histogram {
public:
    static constexpr bucket_bounds latency_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
    static constexpr bucket_bounds swap_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.25,   1};

    explicit histogram(const bucket_bounds& bounds) : bounds_(bounds) {}

    void observe(double seconds);
    histogram_snapshot snapshot() const;
    // snapshot().write(...)
    void write(std::string& out, std::string_view name, std::string_view labels) const;

private:
    const bucket_bounds& bounds_;
    std::array<std::atomic<std::uint64_t>, 13> counts_{};
    std::atomic<std::uint64_t> sum_nanoseconds_{0};
};

// VALUE escaped for a label value: backslash, double quote and newline, and
// made valid UTF-8 as the format requires (see valid_utf8).
std::string label_value(std::string_view value);

}  // namespace replug

#endif
