#include "ctl/connection.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "address.hpp"
#include "write_all.hpp"

namespace replug::ctl {

namespace {

failure system_failure(const std::string& what) { return failure{what + ": " + std::strerror(errno)}; }

// A blocking socket with SO_SNDTIMEO reports a timed-out connect or send as
// one of these.
bool is_timeout(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS; }

}  // namespace

connection::connection(unique_fd fd, std::string name, deadline until)
    : fd_(std::move(fd)), name_(std::move(name)), until_(until) {}

outcome<connection> connection::to_unix(const std::string& path, std::string name, deadline until) {
    auto address = unix_socket_address(path);
    if (!address)
        return failure{"cannot connect to " + name + ": the path is empty or longer than " +
                       std::to_string(max_unix_socket_path) + " bytes"};
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return system_failure("cannot connect to " + name);
    connection result(std::move(fd), std::move(name), until);
    if (!result.arm()) return result.timed_out();
    if (::connect(result.fd_.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0)
        return is_timeout(errno) ? result.timed_out() : system_failure("cannot connect to " + result.name_);
    return result;
}

outcome<connection> connection::to_tcp(const std::string& host, const std::string& port, std::string name,
                                       deadline until) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int error = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); error != 0)
        return failure{"cannot connect to " + name + ": " + ::gai_strerror(error)};
    std::string last_error = "no address";
    for (addrinfo* each = found; each != nullptr; each = each->ai_next) {
        unique_fd fd(::socket(each->ai_family, each->ai_socktype | SOCK_CLOEXEC, each->ai_protocol));
        if (!fd) {
            last_error = std::strerror(errno);
            continue;
        }
        connection attempt(std::move(fd), name, until);
        if (!attempt.arm()) {
            ::freeaddrinfo(found);
            return attempt.timed_out();
        }
        if (::connect(attempt.fd_.get(), each->ai_addr, each->ai_addrlen) == 0) {
            ::freeaddrinfo(found);
            return attempt;
        }
        last_error = is_timeout(errno) ? "timed out" : std::strerror(errno);
    }
    ::freeaddrinfo(found);
    return failure{"cannot connect to " + name + ": " + last_error};
}

outcome<std::size_t> connection::send_all(std::string_view data) {
    // Armed once: each send may then block for the time left now. A request
    // fits the socket buffer, so it goes in one send that does not block.
    if (!arm()) return timed_out();
    std::size_t sent = write_all(fd_.get(), data);
    if (sent < data.size()) return is_timeout(errno) ? timed_out() : system_failure("cannot send to " + name_);
    return sent;
}

outcome<bool> connection::receive(std::string& buffer) {
    char chunk[16384];
    while (true) {
        if (!arm()) return timed_out();
        ssize_t got = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return is_timeout(errno) ? timed_out() : system_failure("cannot read from " + name_);
        buffer.append(chunk, static_cast<std::size_t>(got));
        return got > 0;
    }
}

bool connection::arm() {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(until_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(left.count() / 1000000);
    limit.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);  // never all zero: that means "no limit"
    return ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0 &&
           ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0;
}

failure connection::timed_out() const { return failure{name_ + ": no answer within the timeout (--timeout)"}; }

}  // namespace replug::ctl
