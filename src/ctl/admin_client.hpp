// One admin request to one target, whichever way it travels (FastCGI to a
// socket, HTTP to a front server), with the checks that come before any
// byte leaves: the address parses, and the token does not cross a network
// in clear text unless the operator said so.
#ifndef REPLUG_CTL_ADMIN_CLIENT_HPP
#define REPLUG_CTL_ADMIN_CLIENT_HPP

#include <string>

#include "ctl/admin_call.hpp"
#include "ctl/options.hpp"
#include "outcome.hpp"

namespace replug::ctl {

struct call_settings {
    std::string admin_prefix;  // for a socket, and for a URL without a path
    double timeout_seconds = 30;  // for each call
    bool allow_plaintext_token = false;
};

// Fails (bad_input) when WHERE does not parse, or when it is a TCP host
// that is not loopback (is_loopback_host) and SETTINGS do not allow a
// plaintext token: replugctl has no TLS, and whoever reads the token on the
// way can reload any code into replugd.
std::optional<failure> check_target(const target& where, const call_settings& settings);

// check_target, then sends CALL to WHERE and reads the whole answer within
// SETTINGS.timeout_seconds. Fails with bad_input as check_target does, and
// with failed when there is no answer (cannot connect, timeout, not
// FastCGI or HTTP); a 4xx or 5xx answer is an answer.
outcome<admin_answer> call(const target& where, const call_settings& settings, const admin_request& call);

// TEXT as a query component: everything but unreserved characters and '/' as %XX.
std::string percent_encoded(std::string_view text);

// What the server said was wrong: its JSON "error", else the HTTP status.
std::string error_reason(const admin_answer& answer);

}  // namespace replug::ctl

#endif
