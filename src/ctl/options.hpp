// replugctl's command line: where the server is, the token, the output
// form, and the command with its route.
#ifndef REPLUG_CTL_OPTIONS_HPP
#define REPLUG_CTL_OPTIONS_HPP

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outcome.hpp"

namespace replug::ctl {

// One replugd to talk to, as given: a socket (FastCGI) or the URL of its
// admin prefix behind a front server (HTTP).
struct target {
    std::string address;  // as given to --socket or --url, or a line of --targets
    bool http = false;    // a --url
    bool operator==(const target&) const = default;
};

struct options {
    // Every --socket and --url, in the order given; the default socket when
    // none is given and there is no --targets.
    std::vector<target> targets;
    std::optional<std::string> targets_file;  // --targets: more of them, one per line
    std::string admin_prefix;  // --admin-prefix: starts and ends with '/'
    std::optional<std::string> token_file;
    bool json = false;
    bool check = false;                  // reload --check
    bool allow_plaintext_token = false;  // --allow-plaintext-token
    double timeout_seconds = 30;
    bool help = false;
    bool version = false;
    std::string command;                // status, reload, rollback or metrics
    std::optional<std::string> route;   // reload's optional and rollback's required ROUTE
};

// A --targets file: one target per line, a URL when it starts with http://
// or https://, a --socket address otherwise; blank lines and lines starting
// with '#' are skipped. A failure (bad_input) names the file and the line.
outcome<std::vector<target>> parse_targets(const std::string& file, std::string_view text);

// Parses ARGS (without the program name). A failure's reason is one line
// naming the option or the command; its kind is bad_input.
outcome<options> parse_options(const std::vector<std::string>& args);

// The --help text; the same synopsis and options as replugctl(1).
std::string usage();

}  // namespace replug::ctl

#endif
