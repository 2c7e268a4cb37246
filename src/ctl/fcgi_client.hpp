// Talks FastCGI straight to replugd's socket, sending the params a front
// server (nginx) would send for the same HTTP request, so that no front
// server is needed to operate replugd.
#ifndef REPLUG_CTL_FCGI_CLIENT_HPP
#define REPLUG_CTL_FCGI_CLIENT_HPP

#include <string>
#include <string_view>

#include "ctl/admin_call.hpp"
#include "outcome.hpp"

namespace replug::ctl {

// Where replugd listens, as given to --socket: "unix:/path" (or "/path"), "HOST:PORT",
// "[IPV6]:PORT" or ":PORT" (loopback).
struct socket_address {
    std::string text;       // as given, for messages
    std::string unix_path;  // set for unix:
    std::string host;       // set otherwise
    std::string port;
};

outcome<socket_address> parse_socket_address(std::string_view text);

// Sends CALL as the request "METHOD ADMIN_PREFIX+ENDPOINT?QUERY" on a fresh
// connection and reads the whole answer. REQUIRES: ADMIN_PREFIX starts and
// ends with '/'. Fails (with a reason naming the socket) when it cannot
// connect, the deadline passes, or what comes back is not FastCGI.
outcome<admin_answer> fcgi_call(const socket_address& where, std::string_view admin_prefix,
                                const admin_request& call, deadline until);

}  // namespace replug::ctl

#endif
