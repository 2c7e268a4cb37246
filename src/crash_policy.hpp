// What the master does when a route's current version crashes a worker:
// nothing yet, roll the version back, or (with nothing to roll back to) make
// the route answer 503 for a while instead of burning workers. A pure
// policy, one per route: it reads no clock, it is told the times.
#ifndef REPLUG_CRASH_POLICY_HPP
#define REPLUG_CRASH_POLICY_HPP

#include <chrono>
#include <cstddef>
#include <deque>

#include "config.hpp"

namespace replug {

class crash_policy {
public:
    using clock = std::chrono::steady_clock;

    enum class verdict { none, roll_back, unavailable };

    // The longest and first 503 period; it doubles from one to the other
    // while the same version keeps crashing.
    static constexpr std::chrono::seconds first_unavailable{10};
    static constexpr std::chrono::seconds longest_unavailable{300};

    explicit crash_policy(rollback_policy rules = {}) : rules_(rules) {}

    // A new version became current at WHEN: its crashes start from zero.
    void swapped(clock::time_point when);

    // The current version crashed a worker at NOW. HAS_PREVIOUS: there is a
    // version to roll back to; UNAVAILABLE: the route answers 503 already (a
    // late crash then changes nothing). roll_back: RULES.crashes within
    // RULES.window, during the version's first RULES.grace. unavailable: as
    // many crashes, with nothing to roll back to; call unavailable_for().
    verdict crashed(clock::time_point now, bool has_previous, bool unavailable);

    // Crashes within the window at the last crashed().
    std::size_t recent() const { return recent_.size(); }
    // Since the swap, at the last crashed().
    clock::duration since_swap() const { return last_crash_ - swapped_at_; }

    // After verdict unavailable: how long the route answers 503 this time.
    std::chrono::seconds unavailable_for();

private:
    rollback_policy rules_;
    clock::time_point swapped_at_{};
    clock::time_point last_crash_{};
    std::deque<clock::time_point> recent_;
    std::chrono::seconds unavailable_{0};
};

}  // namespace replug

#endif
