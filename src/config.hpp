// Options from the command line and an INI file (--config FILE). Every option
// works in both; the command line wins; repeated keys keep their order.
#ifndef REPLUG_CONFIG_HPP
#define REPLUG_CONFIG_HPP

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "log.hpp"
#include "outcome.hpp"

namespace replug {

// A route's --route-setting KEY=VALUE pairs, by key.
using route_settings = std::map<std::string, std::string, std::less<>>;

// One --route PATH=MODULE[:SYMBOL], and its settings.
struct route_spec {
    std::string pattern;
    std::string module;
    std::string symbol = "serve";
    route_settings settings = {};

    bool operator==(const route_spec&) const = default;
};

// When the master rolls a version back by itself: CRASHES crashes of it
// within WINDOW, during its first GRACE after the swap.
struct rollback_policy {
    bool enabled = true;
    unsigned crashes = 2;
    std::chrono::seconds window{10};
    std::chrono::seconds grace{60};
};

// Parses --auto-rollback: "CRASHES:WINDOW:GRACE" (counts and seconds) or "off".
outcome<rollback_policy> parse_rollback_policy(std::string_view text);

// --max-body's default: nginx's client_max_body_size in the shipped site.
inline constexpr std::uint64_t default_max_body = 16 << 20;

// Parses --max-body: bytes, or a number with K, M or G (binary: 1K = 1024).
outcome<std::uint64_t> parse_byte_size(std::string_view text);

struct config {
    std::optional<std::filesystem::path> config_file;
    std::string listen;  // empty: use an inherited socket
    mode_t listen_mode = 0660;
    std::string listen_owner;  // user name; empty: leave as created
    std::string listen_group;
    unsigned workers = 2;  // 0: a single process
    unsigned threads = 2;  // per worker process (with no workers, the CPUs by default)
    rollback_policy auto_rollback;
    std::vector<std::filesystem::path> module_path;
    std::vector<route_spec> routes;
    std::string admin_prefix = "/-/";
    std::optional<std::filesystem::path> admin_token_file;
    std::string admin_listen;  // empty: admin only on --listen
    std::optional<std::filesystem::path> pid_file;
    log_level level = log_level::info;
    std::chrono::milliseconds drain_timeout{10000};
    std::chrono::milliseconds shutdown_delay{0};  // SIGTERM -> not ready, serving on this long, then drain
    std::uint64_t max_body = default_max_body;
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

// Parses one --route-setting "PATH:KEY=VALUE" into the route of ROUTES whose
// pattern PATH is (the longest one that fits, since a pattern may hold ':').
// KEY is [A-Za-z0-9_.-]+; VALUE is the rest, '=' and ':' included. The
// reason names what is wrong: no such route, an empty or bad key, a key set
// twice for one route.
std::optional<failure> add_route_setting(std::string_view text, std::vector<route_spec>& routes);

// The CPUs this process may use: the cgroup's CPU quota where one is set
// (containers; cgroup v2 cpu.max, else v1 cpu.cfs_quota_us), else the cores.
unsigned available_cpus();

// The --help text.
std::string usage();

}  // namespace replug

#endif
