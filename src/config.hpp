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
#include "recycle_policy.hpp"

namespace replug {

// A route's --route-setting KEY=VALUE pairs, by key.
using route_settings = std::map<std::string, std::string, std::less<>>;

// One --route PATH=MODULE[:SYMBOL], with its settings and the limits the
// other options give its handler calls (see handler_limits below).
struct route_spec {
    std::string pattern;
    std::string module;
    std::string symbol = "serve";
    // A handler call still running after this is answered 504 (0: never).
    std::chrono::milliseconds handler_timeout{30000};
    // A handler call still running after this is logged once as slow (0: never).
    std::chrono::milliseconds slow_log{0};
    route_settings settings = {};

    bool operator==(const route_spec&) const = default;
};

// --handler-timeout [PATH=]SECONDS, once: a route's timeout (PATH empty: the
// default for every route). 0 turns the timeout off.
struct handler_timeout_option {
    std::string pattern;
    std::chrono::milliseconds timeout{0};
};

// Parses "[PATH=]SECONDS" for --handler-timeout: SECONDS a decimal number
// from 0 to 86400 (0.5 is half a second; 0: off). The reason names the option.
outcome<handler_timeout_option> parse_handler_timeout(std::string_view text);

// Parses SECONDS for OPTION (e.g. "--slow-log"): a decimal number from 0 to
// 86400, kept to the millisecond; a positive number below 1 ms is refused.
outcome<std::chrono::milliseconds> parse_seconds(std::string_view option, std::string_view text);

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
    recycle_limits recycle;  // worker processes only
    // --max-in-flight PATH=N: at most N requests in PATH's handler at once,
    // over every worker; in the order given, each PATH a route's pattern.
    std::vector<std::pair<std::string, unsigned>> max_in_flight;
    std::vector<std::filesystem::path> module_path;
    std::vector<route_spec> routes;
    std::string admin_prefix = "/-/";
    std::optional<std::filesystem::path> admin_token_file;
    std::string admin_listen;  // empty: admin only on --listen
    std::optional<std::filesystem::path> pid_file;
    log_level level = log_level::info;
    std::chrono::milliseconds drain_timeout{10000};
    // How long past its timeout a handler call may still hold its worker
    // before the master kills the worker (worker processes only).
    std::chrono::milliseconds handler_timeout_grace{5000};
    std::chrono::milliseconds shutdown_delay{0};  // SIGTERM -> not ready, serving on this long, then drain
    std::uint64_t max_body = default_max_body;
    bool watch = false;
    std::optional<std::filesystem::path> dev;  // --dev DIR, absolute; see dev_mode.hpp
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

// Parses one --max-in-flight "PATH=N" against ROUTES (PATH must be one of
// their patterns; N from 1 to 1000000); the reason names the option.
outcome<std::pair<std::string, unsigned>> parse_in_flight_cap(std::string_view text,
                                                              const std::vector<route_spec>& routes);

// Where --dev listens without --listen (and no inherited socket): dev mode
// is a development tool, so only this machine reaches it.
inline constexpr const char* dev_default_listen = "127.0.0.1:8000";

// True when ADDRESS (as --listen takes it) only accepts connections from
// this machine: a unix socket, 127.0.0.0/8, ::1 or localhost.
bool loopback_address(std::string_view address);

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
