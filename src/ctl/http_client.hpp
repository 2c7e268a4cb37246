// Talks plain HTTP/1.1 (no TLS) to the front server (nginx, lighttpd) that
// passes the admin prefix on to replugd: for a replugd whose socket is on
// another machine or not reachable by the operator.
#ifndef REPLUG_CTL_HTTP_CLIENT_HPP
#define REPLUG_CTL_HTTP_CLIENT_HPP

#include <string>
#include <string_view>

#include "ctl/admin_call.hpp"
#include "outcome.hpp"

namespace replug::ctl {

// "http://HOST[:PORT]/PREFIX/" as given to --url.
struct http_url {
    std::string text;    // as given, for messages
    std::string host;    // without brackets for IPv6
    std::string port;    // "80" when not given
    std::string prefix;  // the admin prefix, ending in '/'; empty when the URL has no path
};

outcome<http_url> parse_http_url(std::string_view text);

// Sends CALL as "METHOD ADMIN_PREFIX+ENDPOINT?QUERY" on a fresh connection
// and reads the whole answer (plain or chunked body). REQUIRES: ADMIN_PREFIX
// starts and ends with '/'. Fails (with a reason naming the URL) when it
// cannot connect, the deadline passes, or the answer is not HTTP.
outcome<admin_answer> http_call(const http_url& where, std::string_view admin_prefix, const admin_request& call,
                                deadline until);

}  // namespace replug::ctl

#endif
