// Signals, turned into calls: the one place that touches process-wide
// signal state. block() runs first in main, before any thread exists, so
// every thread inherits the mask and only wait() ever sees these signals.
#ifndef REPLUG_SIGNALS_HPP
#define REPLUG_SIGNALS_HPP

#include <functional>

namespace replug {

// Blocks SIGHUP, SIGTERM and SIGINT in the calling thread (and the threads
// it will start); ignores SIGPIPE, which a closed client connection raises.
void block_signals();

// Runs ON_RELOAD for each SIGHUP until SIGTERM or SIGINT arrives; returns
// that signal. HUPs that arrive while ON_RELOAD runs stay pending and
// coalesce into one more run: none is lost, a storm costs two reloads.
int wait_for_signals(const std::function<void()>& on_reload);

}  // namespace replug

#endif
