// Reading what an inotify descriptor has to say: the dev-mode builder and the
// module watcher both take every waiting event, one at a time.
#ifndef REPLUG_INOTIFY_EVENTS_HPP
#define REPLUG_INOTIFY_EVENTS_HPP

#include <sys/inotify.h>
#include <unistd.h>

namespace replug {

// Calls ON_EVENT with each inotify event waiting on the non-blocking FD, in
// order, until a read finds no more (or fails).
template <typename OnEvent>
void for_each_inotify_event(int fd, OnEvent&& on_event) {
    alignas(inotify_event) char buffer[64 * 1024];
    while (true) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        for (char* at = buffer; at < buffer + n;) {
            auto* event = reinterpret_cast<inotify_event*>(at);
            at += sizeof(inotify_event) + event->len;
            on_event(event);
        }
    }
}

}  // namespace replug

#endif
