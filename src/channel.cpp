#include "channel.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

namespace replug {

namespace {

using clock = channel::clock;

// Room for exactly max_message_fds and not one more, so that a message with
// more comes with MSG_CTRUNC (the kernel fits as many as the buffer holds).
constexpr std::size_t control_bytes = CMSG_SPACE(sizeof(int) * max_message_fds);
static_assert(control_bytes == CMSG_LEN(sizeof(int) * max_message_fds),
              "the control buffer would hold more than max_message_fds");
static_assert(max_message_fds <= 253, "SCM_RIGHTS passes at most 253 fds (SCM_MAX_FD)");

union control_buffer {
    cmsghdr header;  // for alignment
    unsigned char bytes[control_bytes];
};

std::string errno_text() { return std::strerror(errno); }

// A send to, or a receive from, a socket whose peer is gone.
bool peer_is_gone(int error) {
    return error == EPIPE || error == ECONNRESET || error == ECONNREFUSED || error == ENOTCONN;
}

clock::time_point deadline_after(std::chrono::milliseconds timeout) {
    auto now = clock::now();
    // Compared in milliseconds: a huge timeout would overflow in nanoseconds.
    auto room = std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now);
    return timeout >= room ? clock::time_point::max() : now + timeout;
}

// Waits until FD reports one of EVENTS (or a hangup or error, which the next
// call on it reports) or DEADLINE passes.
channel_status wait_for(int fd, short events, clock::time_point deadline, std::string& reason) {
    for (;;) {
        int timeout = -1;
        if (deadline != clock::time_point::max()) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            if (left <= 0) {
                reason = "timed out";
                return channel_status::timed_out;
            }
            timeout = left > INT_MAX ? INT_MAX : static_cast<int>(left);
        }
        pollfd entry{fd, events, 0};
        int ready = ::poll(&entry, 1, timeout);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            reason = "poll: " + errno_text();
            return channel_status::failed;
        }
        if (ready == 0) continue;  // the deadline is checked above
        if (entry.revents & POLLNVAL) {
            reason = "the channel's fd is not open";
            return channel_status::failed;
        }
        return channel_status::ok;
    }
}

// Every fd that came with MSG, owned from now on (so that a refused message
// leaks none of them).
std::vector<unique_fd> take_fds(msghdr& msg) {
    std::vector<unique_fd> fds;
    for (cmsghdr* part = CMSG_FIRSTHDR(&msg); part; part = CMSG_NXTHDR(&msg, part)) {
        if (part->cmsg_level != SOL_SOCKET || part->cmsg_type != SCM_RIGHTS) continue;
        std::size_t count = (part->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char* data = CMSG_DATA(part);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
            fds.emplace_back(fd);
        }
    }
    return fds;
}

received refusal(channel_status status, std::string reason) {
    received result;
    result.status = status;
    result.reason = std::move(reason);
    return result;
}

}  // namespace

sent channel::send(const std::vector<std::string>& fields, const std::vector<int>& fds,
                   clock::time_point deadline) const {
    auto refuse = [](std::string reason) { return sent{channel_status::failed, std::move(reason)}; };
    if (fields.empty()) return refuse("a message needs at least one field");
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].find('\0') != std::string::npos)
            return refuse("field " + std::to_string(i) + " contains a NUL byte");
        bytes += fields[i].size() + 1;
    }
    if (bytes > max_message_bytes)
        return refuse("a message of " + std::to_string(bytes) + " bytes is over the limit of " +
                      std::to_string(max_message_bytes));
    if (fds.size() > max_message_fds)
        return refuse("a message with " + std::to_string(fds.size()) + " fds is over the limit of " +
                      std::to_string(max_message_fds));

    std::string wire;
    wire.reserve(bytes);
    for (const auto& field : fields) {
        wire += field;
        wire += '\0';
    }
    iovec data{wire.data(), wire.size()};
    msghdr msg{};
    msg.msg_iov = &data;
    msg.msg_iovlen = 1;
    control_buffer control;
    if (!fds.empty()) {
        std::memset(control.bytes, 0, sizeof control.bytes);
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* part = CMSG_FIRSTHDR(&msg);
        part->cmsg_level = SOL_SOCKET;
        part->cmsg_type = SCM_RIGHTS;
        part->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(part), fds.data(), sizeof(int) * fds.size());
    }

    for (;;) {
        ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            if (static_cast<std::size_t>(n) == wire.size()) return {};
            return refuse("sendmsg sent " + std::to_string(n) + " of " + std::to_string(wire.size()) + " bytes");
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            std::string reason;
            auto status = wait_for(fd_.get(), POLLOUT, deadline, reason);
            if (status != channel_status::ok) return {status, "cannot send: " + reason};
            continue;
        }
        if (peer_is_gone(errno)) return {channel_status::peer_closed, "cannot send: the other end is closed"};
        return refuse("cannot send: " + errno_text());
    }
}

sent channel::send(const std::vector<std::string>& fields, const std::vector<int>& fds,
                   std::chrono::milliseconds timeout) const {
    return send(fields, fds, deadline_after(timeout));
}

received channel::receive(clock::time_point deadline) const {
    auto buffer = std::make_unique_for_overwrite<char[]>(max_message_bytes);
    for (;;) {
        iovec data{buffer.get(), max_message_bytes};
        control_buffer control;
        msghdr msg{};
        msg.msg_iov = &data;
        msg.msg_iovlen = 1;
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                std::string reason;
                auto status = wait_for(fd_.get(), POLLIN, deadline, reason);
                if (status != channel_status::ok) return refusal(status, "cannot receive: " + reason);
                continue;
            }
            // ECONNRESET: the peer closed with messages of ours unread.
            if (peer_is_gone(errno)) return refusal(channel_status::peer_closed, "the other end is closed");
            return refusal(channel_status::failed, "cannot receive: " + errno_text());
        }

        auto fds = take_fds(msg);
        if (msg.msg_flags & MSG_TRUNC)
            return refusal(channel_status::failed, "refused a message over the limit of " +
                                                       std::to_string(max_message_bytes) + " bytes");
        if (msg.msg_flags & MSG_CTRUNC)
            // The kernel also cuts the fds short when this process has no
            // fd numbers left for them (RLIMIT_NOFILE).
            return refusal(channel_status::failed,
                           "refused a message whose fds did not all arrive: over the limit of " +
                               std::to_string(max_message_fds) + " fds, or this process is out of fds (got " +
                               std::to_string(fds.size()) + ")");
        // Every message has a field, so takes a byte: 0 bytes is the close.
        if (n == 0) return refusal(channel_status::peer_closed, "the other end is closed");
        if (buffer[n - 1] != '\0')
            return refusal(channel_status::failed, "refused a malformed message: it does not end with a NUL");

        received result;
        const char* field = buffer.get();
        const char* end = buffer.get() + n;
        while (field < end) {
            std::size_t length = std::strlen(field);  // the last byte is a NUL
            result.fields.emplace_back(field, length);
            field += length + 1;
        }
        result.fds = std::move(fds);
        return result;
    }
}

received channel::receive(std::chrono::milliseconds timeout) const { return receive(deadline_after(timeout)); }

outcome<std::pair<channel, channel>> channel_pair() {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0)
        return failure{"socketpair: " + errno_text()};
    unique_fd first(ends[0]);
    unique_fd second(ends[1]);
    // Linux refuses a unix datagram over the send buffer less 32 bytes; it
    // doubles the size asked for, up to twice net.core.wmem_max.
    constexpr std::size_t needed = max_message_bytes + 32;
    for (int fd : {first.get(), second.get()}) {
        int size = static_cast<int>(needed);
        if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0)
            return failure{"setsockopt SO_SNDBUF: " + errno_text()};
        int granted = 0;
        socklen_t length = sizeof granted;
        if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &granted, &length) != 0)
            return failure{"getsockopt SO_SNDBUF: " + errno_text()};
        if (granted < 0 || static_cast<std::size_t>(granted) < needed)
            return failure{"the system caps a socket's send buffer at " + std::to_string(granted) +
                           " bytes, below the " + std::to_string(needed) +
                           " a channel message needs; raise net.core.wmem_max"};
    }
    return std::pair<channel, channel>{channel(std::move(first)), channel(std::move(second))};
}

}  // namespace replug
