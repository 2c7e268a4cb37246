// write_all: the whole buffer arrives through short writes and interrupted
// calls; a closed peer is an error, not a SIGPIPE.
#define BOOST_TEST_MODULE write_all
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "unique_fd.hpp"
#include "write_all.hpp"

using replug::unique_fd;
using replug::write_all;

namespace {

struct fd_pair {
    unique_fd read_end, write_end;
};

fd_pair make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

fd_pair make_socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair failed");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

std::string read_to_end(int fd) {
    std::string all;
    char chunk[65536];
    ssize_t n;
    while ((n = ::read(fd, chunk, sizeof chunk)) > 0) all.append(chunk, static_cast<std::size_t>(n));
    return all;
}

// Far more than a pipe's or a socket's buffer: written in several pieces.
std::string large_data() {
    std::string data(4 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
    return data;
}

std::atomic<bool> alarm_rang{false};
void on_alarm(int) { alarm_rang = true; }

}  // namespace

BOOST_AUTO_TEST_CASE(everything_arrives_through_short_writes) {
    const std::string data = large_data();
    for (auto make : {make_pipe, make_socket_pair}) {
        auto [read_end, write_end] = make();
        std::string received;
        std::thread reader([&, fd = read_end.get()] { received = read_to_end(fd); });
        BOOST_TEST(write_all(write_end.get(), data) == data.size());
        write_end.reset();
        reader.join();
        BOOST_TEST((received == data));
    }
}

BOOST_AUTO_TEST_CASE(an_interrupted_write_goes_on) {
    // A signal without SA_RESTART while the pipe is full: write(2) fails with
    // EINTR (having written nothing), and write_all carries on once the
    // reader drains the pipe.
    struct sigaction action {}, previous{};
    action.sa_handler = on_alarm;
    ::sigaction(SIGALRM, &action, &previous);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    ::pthread_sigmask(SIG_BLOCK, &alarm_only, nullptr);  // the reader inherits the block: the writer takes the alarm

    const std::string data = large_data();
    auto [read_end, write_end] = make_pipe();
    std::string filling;  // what fills the pipe before write_all starts
    ::fcntl(write_end.get(), F_SETFL, O_NONBLOCK);
    for (ssize_t n; (n = ::write(write_end.get(), data.data(), 4096)) > 0;) filling.append(data, 0, n);
    ::fcntl(write_end.get(), F_SETFL, 0);
    std::string received;
    std::thread reader([&, fd = read_end.get()] {
        while (!alarm_rang) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        received = read_to_end(fd);
    });
    ::pthread_sigmask(SIG_UNBLOCK, &alarm_only, nullptr);
    itimerval once{{0, 0}, {0, 50'000}};
    ::setitimer(ITIMER_REAL, &once, nullptr);
    std::size_t written = write_all(write_end.get(), data);
    write_end.reset();
    reader.join();
    ::sigaction(SIGALRM, &previous, nullptr);

    BOOST_TEST(alarm_rang.load());
    BOOST_TEST(written == data.size());
    BOOST_TEST((received == filling + data));
}

BOOST_AUTO_TEST_CASE(a_closed_peer_is_an_error_not_a_signal) {
    auto [read_end, write_end] = make_socket_pair();
    read_end.reset();
    errno = 0;
    BOOST_TEST(write_all(write_end.get(), "to nobody") == 0u);  // SIGPIPE would end the test here
    BOOST_TEST(errno == EPIPE);
}

BOOST_AUTO_TEST_CASE(a_bad_fd_writes_nothing) {
    errno = 0;
    BOOST_TEST(write_all(-1, "x") == 0u);
    BOOST_TEST(errno == EBADF);
    BOOST_TEST(write_all(-1, "") == 0u);  // nothing to write: no call at all
}
