#include "signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>

namespace replug {

namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

void block_signals() {
    sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

int wait_for_signals(const std::function<void()>& on_reload) {
    sigset_t set = handled_signals();
    while (true) {
        int received = sigwaitinfo(&set, nullptr);
        if (received < 0) {
            if (errno == EINTR) continue;
            return SIGTERM;
        }
        if (received != SIGHUP) return received;
        on_reload();
    }
}

}  // namespace replug
