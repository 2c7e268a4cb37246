#include "address.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "text.hpp"

namespace replug {

outcome<host_port> split_host_port(std::string_view text) {
    host_port result;
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos) return failure{"unterminated [IPV6] address", failure_kind::bad_input};
        result.host = std::string(text.substr(1, close - 1));
        std::string_view after = text.substr(close + 1);
        if (!after.empty() && !after.starts_with(':'))
            return failure{"expected :PORT after the [IPV6] address", failure_kind::bad_input};
        if (!after.empty()) result.port = std::string(after.substr(1));
        return result;
    }
    auto colon = text.rfind(':');
    result.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) result.port = std::string(text.substr(colon + 1));
    return result;
}

bool is_port_number(std::string_view port) {
    // getaddrinfo would take 99999 and wrap it to 34463: the range is checked here.
    auto number = port.size() <= 5 ? parse_decimal(port) : std::nullopt;
    return number && *number <= 65535;
}

bool is_loopback_host(std::string_view host) {
    if (host.empty() || equal_ignoring_case(host, "localhost")) return true;
    std::string text(host);
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::optional<sockaddr_un> unix_socket_address(std::string_view path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() > max_unix_socket_path) return std::nullopt;
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

}  // namespace replug
