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

// A fixed-bucket histogram of seconds.
class histogram {
public:
    static constexpr std::array<double, 12> latency_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,   0.1,   0.25,   0.5,   1,    2.5};
    static constexpr std::array<double, 12> swap_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                         0.01,   0.025,   0.05,   0.1,   0.25,   1};

    explicit histogram(const std::array<double, 12>& bounds) : bounds_(bounds) {}

    void observe(double seconds);

    // Appends NAME's _bucket, _sum and _count lines with LABELS (already
    // escaped, without braces, may be empty).
    void write(std::string& out, std::string_view name, std::string_view labels) const;

private:
    const std::array<double, 12>& bounds_;
    std::array<std::atomic<std::uint64_t>, 13> counts_{};  // the last is +Inf
    std::atomic<std::uint64_t> sum_nanoseconds_{0};
};

// VALUE escaped for a label value: backslash, double quote and newline.
std::string label_value(std::string_view value);

}  // namespace replug

#endif
