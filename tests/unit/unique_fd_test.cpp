// unique_fd: exactly one owner closes each fd, once.
#define BOOST_TEST_MODULE unique_fd
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "unique_fd.hpp"

using replug::unique_fd;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int open_null() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

BOOST_AUTO_TEST_CASE(closes_what_it_owns_when_it_goes) {
    int raw = open_null();
    BOOST_TEST_REQUIRE(raw >= 0);
    {
        unique_fd fd(raw);
        BOOST_TEST(fd.get() == raw);
        BOOST_TEST(static_cast<bool>(fd));
        BOOST_TEST(is_open(raw));
    }
    BOOST_TEST(!is_open(raw));
}

BOOST_AUTO_TEST_CASE(a_failed_open_owns_nothing) {
    unique_fd fd(-1);
    BOOST_TEST(!fd);
    BOOST_TEST(fd.get() == -1);
    BOOST_TEST(!unique_fd());
}

BOOST_AUTO_TEST_CASE(moving_hands_over_without_closing) {
    int raw = open_null();
    unique_fd first(raw);
    unique_fd second(std::move(first));
    BOOST_TEST(first.get() == -1);
    BOOST_TEST(second.get() == raw);
    BOOST_TEST(is_open(raw));

    int other = open_null();
    unique_fd third(other);
    third = std::move(second);  // closes what third held
    BOOST_TEST(!is_open(other));
    BOOST_TEST(third.get() == raw);
    BOOST_TEST(is_open(raw));
}

BOOST_AUTO_TEST_CASE(release_keeps_the_fd_open_and_reset_closes_it) {
    int raw = open_null();
    {
        unique_fd fd(raw);
        BOOST_TEST(fd.release() == raw);
        BOOST_TEST(!fd);
    }
    BOOST_TEST(is_open(raw));
    unique_fd fd(raw);
    int other = open_null();
    fd.reset(other);
    BOOST_TEST(!is_open(raw));
    BOOST_TEST(fd.get() == other);
    fd.reset();
    BOOST_TEST(!is_open(other));
}
