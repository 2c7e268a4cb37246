// The listening socket: opened from --listen, or inherited from spawn-fcgi
// (fd 0) or systemd socket activation (LISTEN_FDS, fd 3).
#ifndef REPLUG_LISTENER_HPP
#define REPLUG_LISTENER_HPP

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "outcome.hpp"
#include "unique_fd.hpp"

namespace replug {

struct listener {
    unique_fd fd;
    std::string description;                   // for logs: "127.0.0.1:9000", "unix:/run/x.sock", ...
    std::optional<std::filesystem::path> unix_path;  // ours to remove at exit
    // Served by several processes (a worker's inherited socket): only its
    // owner, the master, may shut it down or remove its file.
    bool shared = false;
};

// How a unix socket file is made: its mode, and optionally its owner and group.
struct unix_socket_access {
    mode_t mode = 0660;
    std::string owner;
    std::string group;
};

// ADDRESS is HOST:PORT, :PORT (all addresses), [V6]:PORT or unix:/path.sock.
// A stale unix socket file (nobody listening) is replaced; a live one is not.
outcome<listener> open_listener(const std::string& address, const unix_socket_access& access);

// A listening socket this process was started with, if any: systemd's when
// LISTEN_PID names this process, else fd 0 when it is a listening socket.
std::optional<listener> inherited_listener();

}  // namespace replug

#endif
