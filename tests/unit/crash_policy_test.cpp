// When the master rolls a crashing version back, makes a route answer 503,
// or does nothing: the policy with explicit time points, no clock.
#define BOOST_TEST_MODULE crash_policy
#include <boost/test/unit_test.hpp>

#include "crash_policy.hpp"

using namespace std::chrono_literals;
using replug::crash_policy;
using verdict = crash_policy::verdict;

namespace {

const auto start = crash_policy::clock::time_point{} + 1000s;
const replug::rollback_policy defaults{true, 2, 10s, 60s};

}  // namespace

BOOST_AUTO_TEST_CASE(two_crashes_within_the_window_early_on_roll_back) {
    crash_policy policy(defaults);
    policy.swapped(start);
    BOOST_TEST((policy.crashed(start + 1s, true, false) == verdict::none));
    BOOST_TEST((policy.crashed(start + 3s, true, false) == verdict::roll_back));
    BOOST_TEST(policy.recent() == 2u);
    BOOST_TEST((policy.since_swap() == 3s));
}

BOOST_AUTO_TEST_CASE(crashes_further_apart_than_the_window_do_not) {
    crash_policy policy(defaults);
    policy.swapped(start);
    BOOST_TEST((policy.crashed(start + 1s, true, false) == verdict::none));
    BOOST_TEST((policy.crashed(start + 12s, true, false) == verdict::none));
    BOOST_TEST(policy.recent() == 1u);
    BOOST_TEST((policy.crashed(start + 20s, true, false) == verdict::roll_back));
}

BOOST_AUTO_TEST_CASE(a_version_past_its_grace_is_not_rolled_back) {
    crash_policy policy(defaults);
    policy.swapped(start);
    policy.crashed(start + 61s, true, false);
    BOOST_TEST((policy.crashed(start + 62s, true, false) == verdict::none));
}

BOOST_AUTO_TEST_CASE(nothing_to_roll_back_to_answers_503_doubling_until_a_swap) {
    crash_policy policy(defaults);
    policy.swapped(start);
    policy.crashed(start + 1s, false, false);
    BOOST_TEST((policy.crashed(start + 2s, false, false) == verdict::unavailable));
    BOOST_TEST((policy.unavailable_for() == 10s));
    BOOST_TEST(policy.recent() == 0u);
    // A late crash while it answers 503 changes nothing.
    policy.crashed(start + 3s, false, true);
    BOOST_TEST((policy.crashed(start + 4s, false, true) == verdict::none));
    // It crashes again once it serves: twice as long, up to the cap.
    BOOST_TEST((policy.crashed(start + 15s, false, false) == verdict::none));
    BOOST_TEST((policy.crashed(start + 16s, false, false) == verdict::unavailable));
    BOOST_TEST((policy.unavailable_for() == 20s));
    for (int i = 0; i < 10; ++i) policy.unavailable_for();
    BOOST_TEST((policy.unavailable_for() == crash_policy::longest_unavailable));
    // Also past the grace: with nothing to roll back to, every crash loop counts.
    policy.crashed(start + 500s, false, false);
    BOOST_TEST((policy.crashed(start + 501s, false, false) == verdict::unavailable));
    // A new version starts from the first period again.
    policy.swapped(start + 600s);
    policy.crashed(start + 601s, false, false);
    BOOST_TEST((policy.crashed(start + 602s, false, false) == verdict::unavailable));
    BOOST_TEST((policy.unavailable_for() == 10s));
}

BOOST_AUTO_TEST_CASE(off_never_acts) {
    crash_policy policy({false, 0, {}, {}});
    policy.swapped(start);
    for (int i = 1; i < 10; ++i) BOOST_TEST((policy.crashed(start + std::chrono::seconds(i), i % 2 == 0, false) == verdict::none));
}
