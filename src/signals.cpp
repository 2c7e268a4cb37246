#include "signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace replug {

namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    return set;
}

}  // namespace

void block_signals() {
    sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

unique_fd signal_fd() {
    sigset_t set = handled_signals();
    return unique_fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

int next_signal(int fd) {
    signalfd_siginfo info{};
    if (::read(fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
    return static_cast<int>(info.ssi_signo);
}

int wait_for_signals(const std::function<void()>& on_reload,
                     std::optional<std::chrono::steady_clock::time_point> until) {
    sigset_t set = handled_signals();
    while (true) {
        int received;
        if (until) {
            auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return 0;
            timespec wait{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
            received = sigtimedwait(&set, nullptr, &wait);
            if (received < 0 && errno == EAGAIN) return 0;
        } else {
            received = sigwaitinfo(&set, nullptr);
        }
        if (received < 0) {
            if (errno == EINTR) continue;
            return SIGTERM;
        }
        if (received == SIGCHLD) continue;
        if (received != SIGHUP) return received;
        on_reload();
    }
}

}  // namespace replug
