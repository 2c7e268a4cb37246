// replugctl's command line: where the server is, the token, the output
// form, and the command with its route.
#ifndef REPLUG_CTL_OPTIONS_HPP
#define REPLUG_CTL_OPTIONS_HPP

#include <optional>
#include <string>
#include <vector>

#include "outcome.hpp"

namespace replug::ctl {

struct options {
    std::string socket;        // --socket, or the default socket when neither it nor --url is given
    std::string url;           // --url
    std::string admin_prefix;  // --admin-prefix: starts and ends with '/'
    std::optional<std::string> token_file;
    bool json = false;
    double timeout_seconds = 30;
    bool help = false;
    bool version = false;
    std::string command;                // status, reload, rollback or metrics
    std::optional<std::string> route;   // reload's optional and rollback's required ROUTE
};

// Parses ARGS (without the program name). A failure's reason is one line
// naming the option or the command; its kind is bad_input.
outcome<options> parse_options(const std::vector<std::string>& args);

// The --help text; the same synopsis and options as replugctl(1).
std::string usage();

}  // namespace replug::ctl

#endif
