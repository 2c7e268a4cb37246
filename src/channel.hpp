// Messages between the master and one worker over a SOCK_SEQPACKET
// socketpair: one message is one datagram, delivered whole or not at all.
// A message is a list of text fields (any bytes but NUL; on the wire each is
// followed by a NUL) and zero or more file descriptors (SCM_RIGHTS; the
// receiver gets its own copies, close-on-exec). Limits are checked on both
// ends: what is over them is refused with a reason, never cut short.
//
// Threads: a channel holds nothing but its fd, so send() and receive() may
// run in several threads at once (not release(), nor the destructor); each
// message goes whole to exactly one receive(). Which receiver gets which
// message is then arbitrary, so one conversation (a request and its
// answer) belongs to one thread at a time.
#ifndef REPLUG_CHANNEL_HPP
#define REPLUG_CHANNEL_HPP

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "outcome.hpp"
#include "unique_fd.hpp"

namespace replug {

// The most bytes a message takes on the wire: the fields plus one NUL each.
// Why not more: a unix datagram larger than its socket's send buffer (less
// 32 bytes) is refused with EMSGSIZE, and the buffer is capped at twice
// net.core.wmem_max, which is 212992 on a stock Debian: 1 MiB would work on
// a tuned host and fail on a stock one. A `load` table takes ~300 bytes a
// route, so 256 KiB holds ~800 routes; modules travel as fds, not bytes.
inline constexpr std::size_t max_message_bytes = 256 * 1024;
// The most fds in one message (SCM_RIGHTS takes at most 253).
inline constexpr std::size_t max_message_fds = 250;

// Why a send or a receive did not happen. Not outcome<>'s failure_kind: the
// master answers each of these differently (peer_closed: the worker is gone,
// reap it and start another; timed_out: the worker is alive but slow, its
// deadline passed; failed: a bug or an exhausted resource, log the reason)
// and must not parse a reason to tell them apart; and failure_kind's values
// (bad_input, not_found, ...) are about requests, and other pieces switch
// over them.
enum class channel_status { ok, peer_closed, timed_out, failed };

// What send() came to. REASON is empty when ok, a sentence otherwise.
struct sent {
    channel_status status = channel_status::ok;
    std::string reason;
    bool ok() const { return status == channel_status::ok; }
    explicit operator bool() const { return ok(); }
};

// What receive() came to: when ok, a message (at least one field); otherwise
// no fields, no fds, and the reason.
struct received {
    channel_status status = channel_status::ok;
    std::string reason;
    std::vector<std::string> fields;
    std::vector<unique_fd> fds;
    bool ok() const { return status == channel_status::ok; }
    explicit operator bool() const { return ok(); }
};

class channel {
public:
    using clock = std::chrono::steady_clock;

    // Takes FD, one end of a SOCK_SEQPACKET socket (from channel_pair(), or
    // inherited at a fixed number by a worker).
    explicit channel(unique_fd fd) noexcept : fd_(std::move(fd)) {}

    // Sends FIELDS and copies of FDS (the caller keeps its fds) as one
    // message. Waits while the socket's buffer is full, until DEADLINE (a
    // deadline already passed still makes one attempt without waiting).
    // Refused (failed, nothing sent): no fields, a field with a NUL byte, more
    // than max_message_bytes on the wire, more than max_message_fds.
    // peer_closed: the other end is closed (nothing was sent).
    sent send(const std::vector<std::string>& fields, const std::vector<int>& fds,
              clock::time_point deadline) const;
    sent send(const std::vector<std::string>& fields, const std::vector<int>& fds,
              std::chrono::milliseconds timeout) const;

    // The next message, waiting for it until DEADLINE (one attempt without
    // waiting when it has passed). peer_closed: the other end is closed and
    // every message it sent before closing has been received (or it died
    // with messages of ours unread). failed: the message broke a limit (it
    // is consumed and its fds closed, so the next receive() gets the next
    // message), was malformed, or the system refused.
    received receive(clock::time_point deadline) const;
    received receive(std::chrono::milliseconds timeout) const;

    // For poll/epoll: readable when a message (or the peer's close) waits.
    int fd() const noexcept { return fd_.get(); }
    // Gives up the fd, e.g. to place it in a worker with spawn_worker().
    unique_fd release() noexcept { return std::move(fd_); }

private:
    unique_fd fd_;
};

// A connected pair of channels (socketpair(AF_UNIX, SOCK_SEQPACKET |
// SOCK_CLOEXEC)): what one end sends, the other receives. Both ends get a
// send buffer that holds a message of max_message_bytes; fails, with the
// sysctl to raise, where the system caps the buffer below that.
outcome<std::pair<channel, channel>> channel_pair();

}  // namespace replug

#endif
