#include "crash_policy.hpp"

#include <algorithm>

namespace replug {

void crash_policy::swapped(clock::time_point when) {
    swapped_at_ = when;
    recent_.clear();
    unavailable_ = std::chrono::seconds(0);
}

crash_policy::verdict crash_policy::crashed(clock::time_point now, bool has_previous, bool unavailable) {
    last_crash_ = now;
    recent_.push_back(now);
    while (!recent_.empty() && now - recent_.front() > rules_.window) recent_.pop_front();
    if (!rules_.enabled || recent_.size() < rules_.crashes) return verdict::none;
    if (!has_previous) return unavailable ? verdict::none : verdict::unavailable;
    if (now - swapped_at_ > rules_.grace) return verdict::none;
    return verdict::roll_back;
}

std::chrono::seconds crash_policy::unavailable_for() {
    unavailable_ = std::clamp(unavailable_ * 2, first_unavailable, longest_unavailable);
    recent_.clear();
    return unavailable_;
}

}  // namespace replug
