// Signals, turned into calls: the one place that touches process-wide
// signal state. block() runs first in main, before any thread exists, so
// every thread inherits the mask and only wait() ever sees these signals.
#ifndef REPLUG_SIGNALS_HPP
#define REPLUG_SIGNALS_HPP

#include <chrono>
#include <functional>
#include <optional>

#include "unique_fd.hpp"

namespace replug {

// Blocks SIGHUP, SIGTERM, SIGINT and SIGCHLD in the calling thread (and the
// threads it will start); ignores SIGPIPE, which a closed client connection
// raises.
void block_signals();

// A signalfd that reads SIGHUP, SIGTERM, SIGINT and SIGCHLD: the master's
// main loop polls it beside its workers' channels. REQUIRES: block_signals().
unique_fd signal_fd();

// The signal a signal_fd() has ready, or 0 when none is.
int next_signal(int fd);

// Runs ON_RELOAD for each SIGHUP until SIGTERM or SIGINT arrives; returns
// that signal. HUPs that arrive while ON_RELOAD runs stay pending and
// coalesce into one more run: none is lost, a storm costs two reloads.
// With UNTIL, returns 0 once it passes.
int wait_for_signals(const std::function<void()>& on_reload,
                     std::optional<std::chrono::steady_clock::time_point> until = {});

}  // namespace replug

#endif
