// When the master recycles a worker: the three limits, each spread over the
// worker slots so that workers started together do not all go together.
#define BOOST_TEST_MODULE recycle_policy
#include <boost/test/unit_test.hpp>

#include <set>

#include "recycle_policy.hpp"

using namespace std::chrono_literals;
using replug::limit_reached;
using replug::recycle_limits;
using replug::worker_reading;

BOOST_AUTO_TEST_CASE(no_limits_never_recycle) {
    recycle_limits none;
    BOOST_TEST(!none.any());
    worker_reading old{0, 2, 1'000'000'000, 64ull << 30, std::chrono::hours(24 * 365)};
    BOOST_TEST(!limit_reached(none, old));
    BOOST_TEST(replug::requests_limit(none, 1, 2) == 0u);
}

BOOST_AUTO_TEST_CASE(max_requests_is_spread_over_the_slots) {
    recycle_limits limits{1000, 0, 0s};
    BOOST_TEST(replug::requests_limit(limits, 0, 4) == 1000u);
    BOOST_TEST(replug::requests_limit(limits, 1, 4) == 1125u);
    BOOST_TEST(replug::requests_limit(limits, 2, 4) == 1250u);
    BOOST_TEST(replug::requests_limit(limits, 3, 4) == 1375u);
    // Every slot its own limit, none more than half again the one asked for.
    for (unsigned workers : {1u, 2u, 3u, 8u, 64u, 256u}) {
        std::set<std::uint64_t> seen;
        for (unsigned slot = 0; slot < workers; ++slot) {
            auto limit = replug::requests_limit({100'000, 0, 0s}, slot, workers);
            BOOST_TEST(limit >= 100'000u);
            BOOST_TEST(limit < 150'000u);
            seen.insert(limit);
        }
        BOOST_TEST(seen.size() == workers);
    }
    // A limit too small to spread is still a limit.
    BOOST_TEST(replug::requests_limit({1, 0, 0s}, 3, 4) == 1u);
}

BOOST_AUTO_TEST_CASE(each_limit_names_itself) {
    recycle_limits limits{100, 64, 10s};
    worker_reading young{0, 2, 99, 64ull << 20, 9s};
    BOOST_TEST(!limit_reached(limits, young));  // 64 MiB is not past 64 MiB

    auto served = young;
    served.served = 100;
    BOOST_TEST(*limit_reached(limits, served) == "max-requests");
    auto slot1 = served;
    slot1.slot = 1;  // its limit is 125
    BOOST_TEST(!limit_reached(limits, slot1));

    auto big = young;
    big.resident_bytes = (64ull << 20) + 1;
    BOOST_TEST(*limit_reached(limits, big) == "max-rss");

    auto old = young;
    old.age = 10s;
    BOOST_TEST(*limit_reached(limits, old) == "max-lifetime");
    old.slot = 1;  // 12 s for slot 1 of 2
    BOOST_TEST(!limit_reached(limits, old));
    old.age = 12s;
    BOOST_TEST(*limit_reached(limits, old) == "max-lifetime");

    auto everything = young;
    everything.served = 1000;
    everything.resident_bytes = 1ull << 30;
    everything.age = 1h;
    BOOST_TEST(*limit_reached(limits, everything) == "max-requests");  // the first that applies
}
