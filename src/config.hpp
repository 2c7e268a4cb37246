// Options from the command line and an INI file (--config FILE). Every option
// works in both; the command line wins; repeated keys keep their order.
#ifndef REPLUG_CONFIG_HPP
#define REPLUG_CONFIG_HPP

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "log.hpp"
#include "outcome.hpp"

namespace replug {

// One --route PATH=MODULE[:SYMBOL].
struct route_spec {
    std::string pattern;
    std::string module;
    std::string symbol = "serve";

    bool operator==(const route_spec&) const = default;
};

struct config {
    std::optional<std::filesystem::path> config_file;
    std::string listen;  // empty: use an inherited socket
    mode_t listen_mode = 0660;
    std::string listen_owner;  // user name; empty: leave as created
    std::string listen_group;
    unsigned threads = 0;
    std::vector<std::filesystem::path> module_path;
    std::vector<route_spec> routes;
    std::string admin_prefix = "/-/";
    std::optional<std::filesystem::path> admin_token_file;
    std::string admin_listen;  // empty: admin only on --listen
    std::optional<std::filesystem::path> pid_file;
    log_level level = log_level::info;
    std::chrono::milliseconds drain_timeout{10000};
    bool watch = false;
    bool check = false;
    bool help = false;
    bool version = false;
};

// Parses ARGS (without the program name) and the config file they name.
// The failure reason is one line naming the option, and the file and line
// when the problem is in the file; its caller exits with status 2.
outcome<config> parse_config(const std::vector<std::string>& args);

// Parses "PATH=MODULE[:SYMBOL]"; the reason names what is wrong.
outcome<route_spec> parse_route(std::string_view text);

// The --help text.
std::string usage();

}  // namespace replug

#endif
