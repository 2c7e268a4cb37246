// Socket addresses as given on command lines: "HOST:PORT", "[IPV6]:PORT",
// ":PORT", and unix socket paths. replugd's --listen and replugctl's
// --socket and --url read them with the same rules.
#ifndef REPLUG_ADDRESS_HPP
#define REPLUG_ADDRESS_HPP

#include <sys/un.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "outcome.hpp"

namespace replug {

struct host_port {
    std::string host;                 // without the brackets of "[IPV6]"; empty for ":PORT"
    std::optional<std::string> port;  // what follows the colon, maybe ""; none without a colon
};

// Splits TEXT at the colon before the port: after the ']' when TEXT starts
// with '[', else at the last colon (so "::1:9000" is host "::1"). Checks
// nothing about the port: see is_port_number. Fails (bad_input), with a
// reason a caller puts after its own "--option TEXT: ", when the '[' is not
// closed or something other than ":PORT" follows the ']'.
outcome<host_port> split_host_port(std::string_view text);

// True when PORT is ASCII digits naming 0 to 65535.
bool is_port_number(std::string_view port);

// True when HOST names this machine without leaving it: "localhost" (any
// case), an IPv4 address in 127.0.0.0/8, "::1", or an IPv4-mapped
// ::ffff:127.x.y.z; also "" (":PORT" means loopback). Names are not
// resolved: "myhost" is not loopback even if it resolves to 127.0.1.1.
bool is_loopback_host(std::string_view host);

// The longest path a sockaddr_un holds: sun_path less its final NUL.
constexpr std::size_t max_unix_socket_path = sizeof(sockaddr_un::sun_path) - 1;

// The address of the unix socket at PATH; none when PATH is empty or longer
// than max_unix_socket_path bytes.
std::optional<sockaddr_un> unix_socket_address(std::string_view path);

}  // namespace replug

#endif
