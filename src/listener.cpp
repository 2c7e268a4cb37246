#include "listener.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "address.hpp"

namespace replug {

namespace {

// As deep as the kernel allows (net.core.somaxconn caps it; 4096 on Debian
// 12): nginx connects to a unix socket without waiting, and a full backlog
// is a 502 there ("Resource temporarily unavailable").
constexpr int backlog = 4096;

bool is_listening_socket(int fd) {
    int listening = 0;
    socklen_t size = sizeof listening;
    return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 && listening;
}

failure socket_failure(const std::string& address, const std::string& step) {
    return failure{"--listen " + address + ": " + step + ": " + std::strerror(errno)};
}

// The uid and gid to give the socket file; -1 leaves one unchanged.
outcome<std::pair<uid_t, gid_t>> socket_owner(const unix_socket_access& access) {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (!access.owner.empty()) {
        passwd* user = ::getpwnam(access.owner.c_str());
        if (!user) return failure{"--listen-owner: no user '" + access.owner + "'", failure_kind::bad_input};
        uid = user->pw_uid;
    }
    if (!access.group.empty()) {
        group* found = ::getgrnam(access.group.c_str());
        if (!found) return failure{"--listen-group: no group '" + access.group + "'", failure_kind::bad_input};
        gid = found->gr_gid;
    }
    return std::pair{uid, gid};
}

outcome<listener> open_unix(const std::string& address, const std::string& path, const unix_socket_access& access) {
    auto owner = socket_owner(access);
    if (!owner) return owner.error();
    auto unix_address = unix_socket_address(path);
    if (!unix_address)
        return failure{"--listen " + address + ": socket path is empty or too long", failure_kind::bad_input};
    const sockaddr_un& where = *unix_address;
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return socket_failure(address, "socket");
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0 && S_ISSOCK(existing.st_mode)) {
        // Replace a socket left by a crashed server, never a live one.
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) == 0)
            return failure{"--listen " + address + ": another server is listening on it"};
        ::unlink(path.c_str());
        fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) return socket_failure(address, "socket");
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0)
        return socket_failure(address, "bind");
    bool give = owner->first != static_cast<uid_t>(-1) || owner->second != static_cast<gid_t>(-1);
    if (::chmod(path.c_str(), access.mode) != 0 || (give && ::chown(path.c_str(), owner->first, owner->second) != 0) ||
        ::listen(fd.get(), backlog) != 0) {
        auto why = socket_failure(address, "chmod/chown/listen");
        ::unlink(path.c_str());
        return why;
    }
    return listener{std::move(fd), "unix:" + path, std::filesystem::path(path)};
}

outcome<listener> open_inet(const std::string& address) {
    auto split = split_host_port(address);
    if (!split) return failure{"--listen " + address + ": " + split.reason(), failure_kind::bad_input};
    if (!split->port)
        return failure{"--listen " + address + ": expected HOST:PORT, :PORT or unix:/path.sock",
                       failure_kind::bad_input};
    const std::string& host = split->host;
    const std::string& port = *split->port;
    if (!is_port_number(port))
        return failure{"--listen " + address + ": bad port '" + port + "'", failure_kind::bad_input};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found); rc != 0)
        return failure{"--listen " + address + ": " + ::gai_strerror(rc), failure_kind::bad_input};
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
    // With no host, the IPv6 wildcard first: it takes IPv4 too. Where IPv6
    // is off, the next address (the IPv4 wildcard) is used instead.
    std::vector<addrinfo*> candidates;
    for (auto* each = found; each; each = each->ai_next)
        candidates.insert(host.empty() && each->ai_family == AF_INET6 ? candidates.begin() : candidates.end(), each);
    failure why{"--listen " + address + ": no usable address"};
    for (auto* candidate : candidates) {
        unique_fd fd(::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, candidate->ai_protocol));
        if (!fd) {
            why = socket_failure(address, "socket");
            continue;
        }
        int on = 1, off = 0;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (candidate->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        if (::bind(fd.get(), candidate->ai_addr, candidate->ai_addrlen) == 0 && ::listen(fd.get(), backlog) == 0)
            return listener{std::move(fd), address, std::nullopt};
        why = socket_failure(address, "bind");
    }
    return why;
}

}  // namespace

outcome<listener> open_listener(const std::string& address, const unix_socket_access& access) {
    if (address.starts_with("unix:")) return open_unix(address, address.substr(5), access);
    return open_inet(address);
}

std::optional<listener> inherited_listener() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (pid && fds && std::strtol(pid, nullptr, 10) == ::getpid() && std::strtol(fds, nullptr, 10) >= 1) {
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
        if (is_listening_socket(3)) {
            ::fcntl(3, F_SETFD, FD_CLOEXEC);
            return listener{unique_fd(3), "systemd socket (fd 3)", std::nullopt};
        }
    }
    if (is_listening_socket(0)) {
        // Move it off fd 0 so that nothing mistakes it for standard input.
        unique_fd fd(::fcntl(0, F_DUPFD_CLOEXEC, 3));
        if (!fd) return std::nullopt;
        unique_fd null(::open("/dev/null", O_RDONLY));  // never fd 0, which is still open
        ::dup2(null.get(), 0);
        return listener{std::move(fd), "inherited socket (fd 0)", std::nullopt};
    }
    return std::nullopt;
}

}  // namespace replug
