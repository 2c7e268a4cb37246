// What the process reports of itself, and the defaults it takes from its
// container: the descriptor limit it raises, the CPUs of a cgroup quota.
#define BOOST_TEST_MODULE process
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "process.hpp"

BOOST_AUTO_TEST_CASE(cpus_from_a_cgroup_quota) {
    BOOST_TEST(replug::cpus_allowed("max 100000", 8) == 8u);
    BOOST_TEST(replug::cpus_allowed("200000 100000", 8) == 2u);
    BOOST_TEST(replug::cpus_allowed("150000 100000\n", 8) == 2u);  // rounded up
    BOOST_TEST(replug::cpus_allowed("50000 100000", 8) == 1u);     // at least one
    BOOST_TEST(replug::cpus_allowed("1600000 100000", 8) == 8u);   // never more than the cores
    BOOST_TEST(replug::cpus_allowed("", 4) == 4u);                 // no file: the cores
    BOOST_TEST(replug::cpus_allowed("garbage", 4) == 4u);
    BOOST_TEST(replug::cpus_allowed("100000 0", 4) == 4u);
    BOOST_TEST(replug::cpus_allowed("max 100000", 0) == 1u);
    BOOST_TEST(replug::cpus_allowed("-1 100000", 4) == 4u);         // cgroup v1: no quota
    BOOST_TEST(replug::cpus_allowed("300000 100000", 4) == 3u);     // cgroup v1's two files, joined
}

BOOST_AUTO_TEST_CASE(usage_of_this_process) {
    auto before = replug::read_process_usage(::getpid());
    BOOST_REQUIRE(before.open_descriptors.has_value());
    int extra = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto after = replug::read_process_usage(::getpid());
    ::close(extra);
    BOOST_TEST(*after.open_descriptors == *before.open_descriptors + 1);
    BOOST_REQUIRE(after.resident_bytes.has_value());
    BOOST_TEST(*after.resident_bytes > 1024u * 1024u);
    BOOST_REQUIRE(after.start_time_seconds.has_value());
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    BOOST_TEST(*after.start_time_seconds <= now + 1);
    BOOST_TEST(*after.start_time_seconds > now - 3600);  // this test started a moment ago
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    BOOST_TEST(*after.max_descriptors == limit.rlim_cur);
}

BOOST_AUTO_TEST_CASE(usage_of_a_process_that_is_gone) {
    auto usage = replug::read_process_usage(0x3ffffff0);  // above any pid_max
    BOOST_TEST(!usage.open_descriptors.has_value());
    BOOST_TEST(!usage.resident_bytes.has_value());
    BOOST_TEST(!usage.start_time_seconds.has_value());
}

BOOST_AUTO_TEST_CASE(the_soft_descriptor_limit_rises_to_the_hard_one) {
    rlimit original{};
    BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &original) == 0);
    if (original.rlim_max < 64) return;  // nothing to lower it to
    rlimit lowered{original.rlim_max / 2, original.rlim_max};
    BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    replug::logger log(replug::log_level::error);
    replug::raise_descriptor_limit(log);
    rlimit raised{};
    ::getrlimit(RLIMIT_NOFILE, &raised);
    BOOST_TEST(raised.rlim_cur == original.rlim_max);
    BOOST_TEST(raised.rlim_max == original.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &original);
}
