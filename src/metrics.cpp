#include "metrics.hpp"

#include <cstdio>

#include "text.hpp"

namespace replug {

namespace {

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

}  // namespace

std::size_t bucket_index(const bucket_bounds& bounds, double seconds) {
    std::size_t bucket = 0;
    while (bucket < bounds.size() && seconds > bounds[bucket]) ++bucket;
    return bucket;
}

void histogram::observe(double seconds) {
    counts_[bucket_index(bounds_, seconds)].fetch_add(1, std::memory_order_relaxed);
    sum_nanoseconds_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

histogram_snapshot histogram::snapshot() const {
    histogram_snapshot taken;
    taken.bounds = &bounds_;
    for (std::size_t i = 0; i < counts_.size(); ++i) taken.counts[i] = counts_[i].load(std::memory_order_relaxed);
    taken.sum_seconds = static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) / 1e9;
    return taken;
}

void histogram::write(std::string& out, std::string_view name, std::string_view labels) const {
    snapshot().write(out, name, labels);
}

std::uint64_t histogram_snapshot::count() const {
    std::uint64_t total = 0;
    for (auto each : counts) total += each;
    return total;
}

void histogram_snapshot::write(std::string& out, std::string_view name, std::string_view labels) const {
    std::string prefix(labels);  // built in place: g++ 12 -O3 warns (-Wrestrict) on operator+ here
    if (!prefix.empty()) prefix += ',';
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        std::string bound = bounds && i < bounds->size() ? number((*bounds)[i]) : "+Inf";
        out.append(name).append("_bucket{").append(prefix).append("le=\"").append(bound).append("\"} ");
        out.append(std::to_string(cumulative)).append("\n");
    }
    std::string braces;
    if (!labels.empty()) braces.append("{").append(labels).append("}");
    out.append(name).append("_sum").append(braces).append(" ").append(number(sum_seconds)).append("\n");
    out.append(name).append("_count").append(braces).append(" ").append(std::to_string(cumulative)).append("\n");
}

std::string label_value(std::string_view value) {
    std::string out;
    for (char c : valid_utf8(value)) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace replug
