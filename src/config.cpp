#include "config.hpp"

#include "address.hpp"
#include "process.hpp"
#include "resolver.hpp"
#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <thread>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>

namespace po = boost::program_options;

namespace replug {

namespace {

std::optional<std::uint64_t> parse_count(std::string_view text) {
    return text.size() > 9 ? std::nullopt : parse_decimal(text);
}

bool valid_symbol(std::string_view symbol) {
    if (symbol.empty() || (symbol.front() >= '0' && symbol.front() <= '9')) return false;
    return std::all_of(symbol.begin(), symbol.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool valid_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') return false;
    std::string_view fixed = pattern;
    if (fixed.ends_with("/*")) fixed.remove_suffix(1);
    return std::none_of(fixed.begin(), fixed.end(), [](char c) {
        return c == '*' || c == '?' || c == '#' || c <= ' ' || c == 0x7f;
    });
}

po::options_description describe_options() {
    po::options_description options("Options (all of them also work as KEY = VALUE lines in --config)");
    options.add_options()
        ("config", po::value<std::string>()->value_name("FILE"), "INI file with the options below")
        ("listen", po::value<std::string>()->value_name("ADDR"),
         "HOST:PORT, :PORT or unix:/path.sock (default: an inherited socket on fd 0 or from systemd)")
        ("listen-mode", po::value<std::string>()->value_name("MODE")->default_value("0660"),
         "octal permissions of a unix socket")
        ("listen-owner", po::value<std::string>()->value_name("USER"),
         "owner of a unix socket (like php-fpm's listen.owner)")
        ("listen-group", po::value<std::string>()->value_name("GROUP"),
         "group of a unix socket, e.g. the front server's group (www-data)")
        ("workers", po::value<std::string>()->value_name("N"),
         "worker processes under a master that never loads module code; a handler that crashes costs "
         "only its worker (default: the CPUs of the cgroup's quota, or the cores; at least 2); "
         "0: one process, no master (for debugging)")
        ("threads", po::value<std::string>()->value_name("N"),
         "threads per worker process, as uWSGI counts them (default: 2; with --workers 0, the CPUs "
         "of the cgroup's quota, or the cores; at least 2)")
        ("auto-rollback", po::value<std::string>()->value_name("C:W:G")->default_value("2:10:60"),
         "roll a freshly swapped version back by itself after C crashes within W seconds during its "
         "first G seconds (worker processes only); off: never")
        ("max-requests", po::value<std::string>()->value_name("N"),
         "recycle a worker process gracefully after it served about N requests (spread per worker: "
         "slot S of W gets N + S*N/(2W)); 0: never (default)")
        ("max-rss", po::value<std::string>()->value_name("MiB"),
         "recycle a worker process gracefully once its resident memory passes MiB; 0: never (default)")
        ("max-lifetime", po::value<std::string>()->value_name("SECONDS"),
         "recycle a worker process gracefully after SECONDS (spread per worker as --max-requests); "
         "0: never (default)")
        ("max-in-flight", po::value<std::vector<std::string>>()->value_name("PATH=N"),
         "repeatable; more than N requests in route PATH's handler at once, over every worker, get 503 "
         "with Retry-After: 1")
        ("module-path", po::value<std::vector<std::string>>()->value_name("DIR"),
         "repeatable; the ordered module search path (DIR/NAME.so, then DIR/NAME/index.so)")
        ("route", po::value<std::vector<std::string>>()->value_name("PATH=MODULE[:SYMBOL]"),
         "repeatable; PATH exact, or a prefix ending in /* (longest prefix wins, exact beats prefix); "
         "SYMBOL defaults to serve")
        ("route-setting", po::value<std::vector<std::string>>()->value_name("PATH:KEY=VALUE"),
         "repeatable; a setting of route PATH that its module reads with req.setting(\"KEY\"); "
         "re-read on SIGHUP, in force from the reload that follows")
        ("admin-prefix", po::value<std::string>()->value_name("P")->default_value("/-/"),
         "where the admin endpoints live")
        ("admin-token-file", po::value<std::string>()->value_name("FILE"),
         "bearer token for the admin endpoints; without it admin is off")
        ("admin-listen", po::value<std::string>()->value_name("ADDR"),
         "also answer the admin endpoints (only those) on this socket, with a thread of its own, "
         "so that they work while every worker is busy; a unix socket gets mode 0600")
        ("pid-file", po::value<std::string>()->value_name("FILE"), "written at start, removed at exit")
        ("log-level", po::value<std::string>()->value_name("L")->default_value("info"),
         "error, warn, info or debug")
        ("max-body", po::value<std::string>()->value_name("BYTES")->default_value("16M"),
         "the largest request body served: bytes, or with K, M or G (1K = 1024); a larger one is "
         "answered 413 before the handler runs (read at start)")
        ("drain-timeout", po::value<double>()->value_name("SECONDS")->default_value(10),
         "on SIGTERM, how long in-flight requests may run before the server exits anyway")
        ("handler-timeout", po::value<std::vector<std::string>>()->value_name("[PATH=]SECONDS"),
         "repeatable; a handler call still running after SECONDS (decimals allowed) is answered 504 "
         "and its worker replaced; PATH= for one route, else the default for every route "
         "(default: 30; 0: no timeout)")
        ("handler-timeout-grace", po::value<std::string>()->value_name("SECONDS"),
         "how long past its timeout a handler may keep its worker before the master kills the "
         "worker (default: 5)")
        ("slow-log", po::value<std::string>()->value_name("SECONDS"),
         "log a handler call still running after SECONDS, once (default: 0, off)")
        ("shutdown-delay", po::value<double>()->value_name("SECONDS")->default_value(0),
         "on SIGTERM, answer ready with 503 at once but go on serving for this long before draining, "
         "so that load balancers stop sending first (a second SIGTERM, or SIGINT, cuts it short)")
        ("watch", po::bool_switch(),
         "reload a route when its module file is rewritten, renamed in, or appears earlier in the path")
        ("dev", po::value<std::string>()->value_name("DIR"),
         "development mode: DIR/NAME.cpp (or DIR/NAME/*.cpp) is compiled with $CXX and served at /NAME, "
         "and compiled again on every save; listens on 127.0.0.1:8000 without --listen; "
         "a development tool, not for production")
        ("check", po::bool_switch(), "resolve and load every route, report, exit 0 (all good) or 1")
        ("version", po::bool_switch(), "print the version and exit")
        ("help", po::bool_switch(), "print this help and exit");
    return options;
}

struct file_entry {
    std::string key;
    std::string value;
    int line;
};

// Reads KEY = VALUE lines; '#' and ';' start comments. Sections are not used.
outcome<std::vector<file_entry>> read_config_file(const std::string& file,
                                                  const po::options_description& options) {
    std::ifstream input(file);
    if (!input) return failure{"--config " + file + ": cannot read the file", failure_kind::bad_input};
    std::vector<file_entry> entries;
    std::string line;
    for (int number = 1; std::getline(input, line); ++number) {
        std::string text = trim(line);
        if (text.empty() || text.front() == '#' || text.front() == ';') continue;
        auto where = file + ":" + std::to_string(number) + ": ";
        auto equals = text.find('=');
        if (equals == std::string::npos)
            return failure{where + "expected KEY = VALUE, got '" + text + "'", failure_kind::bad_input};
        std::string key = trim(text.substr(0, equals));
        std::string value = trim(text.substr(equals + 1));
        if (key == "config" || !options.find_nothrow(key, false))
            return failure{where + "unknown option '" + key + "'", failure_kind::bad_input};
        entries.push_back({key, value, number});
    }
    // A directory opens but cannot be read: refused, not taken as an empty file.
    if (input.bad()) return failure{"--config " + file + ": cannot read the file", failure_kind::bad_input};
    return entries;
}

std::string where_set(const std::string& key, const std::vector<file_entry>& file_entries,
                      const std::string& file) {
    for (const auto& entry : file_entries)
        if (entry.key == key) return file + ":" + std::to_string(entry.line) + ": ";
    return "";
}

// "FILE:LINE: " of the first KEY = VALUE line of the file; "" when VALUE came
// from the command line (options given many times: --route and the like).
std::string where_set(const std::string& key, const std::string& value, const std::vector<file_entry>& file_entries,
                      const std::string& file) {
    for (const auto& entry : file_entries)
        if (entry.key == key && entry.value == value) return file + ":" + std::to_string(entry.line) + ": ";
    return "";
}

}  // namespace

namespace {

// Gives every route of ROUTES its handler timeout (its own --handler-timeout
// PATH=, else the default one, else 30 s) and the --slow-log threshold.
outcome<bool> handler_limits(const po::variables_map& values, std::vector<route_spec>& routes,
                             const std::function<std::string(const std::string&)>& origin) {
    auto bad = [&](const std::string& key, const std::string& why) {
        return failure{origin(key) + why, failure_kind::bad_input};
    };
    std::chrono::milliseconds slow{0};
    if (values.count("slow-log")) {
        auto parsed = parse_seconds("--slow-log", values["slow-log"].as<std::string>());
        if (!parsed) return bad("slow-log", parsed.reason());
        slow = *parsed;
    }
    std::optional<std::chrono::milliseconds> fallback;
    std::map<std::string, std::chrono::milliseconds> own;
    if (values.count("handler-timeout"))
        for (const auto& text : values["handler-timeout"].as<std::vector<std::string>>()) {
            auto option = parse_handler_timeout(text);
            if (!option) return bad("handler-timeout", option.reason());
            if (option->pattern.empty()) {
                if (fallback) return bad("handler-timeout", "--handler-timeout: the default (no PATH=) is given twice");
                fallback = option->timeout;
                continue;
            }
            if (std::none_of(routes.begin(), routes.end(), [&](const auto& r) { return r.pattern == option->pattern; }))
                return bad("handler-timeout",
                           "--handler-timeout: " + option->pattern + " is not the path of any --route");
            if (!own.emplace(option->pattern, option->timeout).second)
                return bad("handler-timeout", "--handler-timeout: " + option->pattern + " is given twice");
        }
    for (auto& route : routes) {
        auto found = own.find(route.pattern);
        route.handler_timeout = found != own.end() ? found->second : fallback.value_or(std::chrono::seconds(30));
        route.slow_log = slow;
    }
    return true;
}

}  // namespace

outcome<route_spec> parse_route(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return failure{"bad route '" + std::string(text) + "': " + why, failure_kind::bad_input};
    };
    std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) return bad("expected PATH=MODULE[:SYMBOL]");
    route_spec spec;
    spec.pattern = text.substr(0, equals);
    std::string_view target = text.substr(equals + 1);
    if (std::size_t colon = target.find(':'); colon != std::string_view::npos) {
        spec.symbol = target.substr(colon + 1);
        target = target.substr(0, colon);
    }
    spec.module = target;
    if (!valid_pattern(spec.pattern))
        return bad("PATH must start with '/', and may end in '/*' (a prefix); no other '*', '?', '#' or spaces");
    if (!valid_module_name(spec.module))
        return bad("MODULE must be '/'-separated segments of [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    if (!valid_symbol(spec.symbol)) return bad("SYMBOL must be a C identifier");
    return spec;
}

outcome<std::pair<std::string, unsigned>> parse_in_flight_cap(std::string_view text,
                                                              const std::vector<route_spec>& routes) {
    auto bad = [&](const std::string& why) {
        return failure{"--max-in-flight: '" + std::string(text) + "': " + why, failure_kind::bad_input};
    };
    auto equals = text.rfind('=');
    if (equals == std::string_view::npos) return bad("expected PATH=N");
    std::string pattern(text.substr(0, equals));
    auto number = text.size() - equals - 1 <= 7 ? parse_decimal(text.substr(equals + 1)) : std::nullopt;
    if (!number || *number < 1 || *number > 1'000'000) return bad("N is not a whole number from 1 to 1000000");
    if (std::none_of(routes.begin(), routes.end(), [&](const route_spec& r) { return r.pattern == pattern; }))
        return bad("no route " + pattern + " (PATH is a --route's PATH, as written there)");
    return std::pair{pattern, static_cast<unsigned>(*number)};
}

std::optional<failure> add_route_setting(std::string_view text, std::vector<route_spec>& routes) {
    auto bad = [&](const std::string& why) {
        return failure{"bad route setting '" + std::string(text) + "': " + why, failure_kind::bad_input};
    };
    route_spec* target = nullptr;
    for (auto& route : routes)
        if (text.size() > route.pattern.size() && text.starts_with(route.pattern) && text[route.pattern.size()] == ':' &&
            (!target || route.pattern.size() > target->pattern.size()))
            target = &route;
    if (!target) {
        auto colon = text.find(':');
        if (colon == std::string_view::npos) return bad("expected PATH:KEY=VALUE");
        return bad("no route " + std::string(text.substr(0, colon)) + " (set it with --route)");
    }
    std::string_view setting = text.substr(target->pattern.size() + 1);
    auto equals = setting.find('=');
    if (equals == std::string_view::npos) return bad("expected PATH:KEY=VALUE");
    std::string_view key = setting.substr(0, equals);
    if (key.empty()) return bad("the key is empty");
    if (!std::all_of(key.begin(), key.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '.' || c == '-';
        }))
        return bad("KEY must be [A-Za-z0-9_.-]");
    if (!target->settings.emplace(std::string(key), std::string(setting.substr(equals + 1))).second)
        return bad("key " + std::string(key) + " is set twice for route " + target->pattern);
    return std::nullopt;
}

outcome<rollback_policy> parse_rollback_policy(std::string_view text) {
    auto bad = failure{"--auto-rollback: expected CRASHES:WINDOW:GRACE (e.g. 2:10:60) or off, got '" +
                           std::string(text) + "'",
                       failure_kind::bad_input};
    if (text == "off") return rollback_policy{false, 0, {}, {}};
    std::vector<std::uint64_t> numbers;
    while (true) {
        auto colon = text.find(':');
        auto number = parse_count(text.substr(0, colon));
        if (!number || *number == 0 || *number > 86400) return bad;
        numbers.push_back(*number);
        if (colon == std::string_view::npos) break;
        text.remove_prefix(colon + 1);
    }
    if (numbers.size() != 3) return bad;
    return rollback_policy{true, static_cast<unsigned>(numbers[0]), std::chrono::seconds(numbers[1]),
                           std::chrono::seconds(numbers[2])};
}

outcome<std::uint64_t> parse_byte_size(std::string_view text) {
    auto bad = failure{"--max-body: expected bytes or a size like 512K, 16M or 1G (at most 64G), got '" +
                           std::string(text) + "'",
                       failure_kind::bad_input};
    std::uint64_t unit = 1;
    if (!text.empty()) {
        switch (ascii_upper(text.back())) {
            case 'K': unit = 1ull << 10; break;
            case 'M': unit = 1ull << 20; break;
            case 'G': unit = 1ull << 30; break;
            default: break;
        }
        if (unit != 1) text.remove_suffix(1);
    }
    auto number = text.size() <= 12 ? parse_decimal(text) : std::nullopt;
    if (!number || *number > (64ull << 30) / unit) return bad;
    return *number * unit;
}

bool loopback_address(std::string_view address) {
    if (address.starts_with("unix:")) return true;
    auto split = split_host_port(address);
    // An empty host binds every interface: ":PORT" listens beyond loopback.
    return split && !split->host.empty() && is_loopback_host(split->host);
}

outcome<std::chrono::milliseconds> parse_seconds(std::string_view option, std::string_view text) {
    auto bad = failure{std::string(option) + ": '" + std::string(text) +
                           "' is not a number of seconds from 0 to 86400 (e.g. 30 or 0.5)",
                       failure_kind::bad_input};
    // Digits with at most one '.': no sign, exponent, "inf" or "nan", which from_chars would take.
    auto dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    auto digits = [](std::string_view part) {
        return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (text.size() > 20 || whole.size() + fraction.size() == 0 || !digits(whole) || !digits(fraction)) return bad;
    double seconds = 0;
    std::string copy(text);
    if (copy.front() == '.') copy.insert(0, "0");
    if (copy.back() == '.') copy.pop_back();
    auto [end, error] = std::from_chars(copy.data(), copy.data() + copy.size(), seconds);
    if (error != std::errc{} || end != copy.data() + copy.size() || seconds > 86400) return bad;
    auto milliseconds = std::chrono::milliseconds(std::llround(seconds * 1000));
    if (seconds > 0 && milliseconds.count() == 0)
        return failure{std::string(option) + ": '" + std::string(text) + "' is below a millisecond (0 turns it off)",
                       failure_kind::bad_input};
    return milliseconds;
}

outcome<handler_timeout_option> parse_handler_timeout(std::string_view text) {
    handler_timeout_option option;
    auto equals = text.rfind('=');
    if (equals != std::string_view::npos) {
        option.pattern = text.substr(0, equals);
        if (!valid_pattern(option.pattern))
            return failure{"--handler-timeout: '" + std::string(text) + "': expected [PATH=]SECONDS with PATH a --route path",
                           failure_kind::bad_input};
        text.remove_prefix(equals + 1);
    }
    auto timeout = parse_seconds("--handler-timeout", text);
    if (!timeout) return timeout.error();
    option.timeout = *timeout;
    return option;
}

unsigned available_cpus() {
    unsigned cores = std::thread::hardware_concurrency();
    std::string line;
    if (std::ifstream limit("/sys/fs/cgroup/cpu.max"); std::getline(limit, line))  // cgroup v2
        return cpus_allowed(line, cores);
    // cgroup v1 (Docker on older hosts): the same two numbers in two files; quota -1: none.
    for (const char* directory : {"/sys/fs/cgroup/cpu/", "/sys/fs/cgroup/cpu,cpuacct/"}) {
        std::ifstream quota(std::string(directory) + "cpu.cfs_quota_us");
        std::ifstream period(std::string(directory) + "cpu.cfs_period_us");
        std::string quota_text, period_text;
        if (quota >> quota_text && period >> period_text) return cpus_allowed(quota_text + " " + period_text, cores);
    }
    return cpus_allowed("", cores);
}

std::string usage() {
    std::ostringstream text;
    text << "Usage: replugd [OPTIONS]\n"
            "Serves FastCGI requests with handlers from hot-swappable C++ modules.\n\n"
         << describe_options()
         << "\nSignals: SIGHUP re-reads the config and reloads every route (all or nothing);\n"
            "SIGTERM/SIGINT stop accepting, finish in-flight requests, exit 0.\n";
    return text.str();
}

outcome<config> parse_config(const std::vector<std::string>& args) {
    auto options = describe_options();
    auto bad = [](const std::string& why) { return failure{why, failure_kind::bad_input}; };
    po::variables_map values;
    std::vector<file_entry> file_entries;
    std::string file;
    try {
        po::store(po::command_line_parser(args).options(options).run(), values);
        if (values.count("config")) {
            file = values["config"].as<std::string>();
            auto entries = read_config_file(file, options);
            if (!entries) return entries.error();
            file_entries = std::move(*entries);
            po::parsed_options parsed(&options);
            for (const auto& entry : file_entries) {
                po::option option(entry.key, {entry.value});
                option.original_tokens = {entry.key, entry.value};
                parsed.options.push_back(std::move(option));
            }
            try {
                po::store(parsed, values);
            } catch (const po::error_with_option_name& error) {
                std::string key = error.get_option_name();
                if (key.starts_with("--")) key.erase(0, 2);
                return bad(where_set(key, file_entries, file) + error.what());
            }
        }
        po::notify(values);
    } catch (const po::error& error) {
        return bad(error.what());
    }

    config result;
    result.help = values["help"].as<bool>();
    result.version = values["version"].as<bool>();
    result.check = values["check"].as<bool>();
    result.watch = values["watch"].as<bool>();
    if (!file.empty()) result.config_file = std::filesystem::absolute(file);
    auto origin = [&](const std::string& key) { return where_set(key, file_entries, file); };

    if (values.count("dev")) {
        const auto& dir = values["dev"].as<std::string>();
        if (dir.empty()) return bad(origin("dev") + "--dev: empty directory");
        result.dev = std::filesystem::absolute(dir).lexically_normal();
        if (result.dev->filename().empty()) result.dev = result.dev->parent_path();
    }

    if (values.count("listen")) {
        result.listen = values["listen"].as<std::string>();
        if (result.listen.empty()) return bad(origin("listen") + "--listen: empty address");
    }
    const auto& mode = values["listen-mode"].as<std::string>();
    std::size_t used = 0;
    unsigned long bits = 0;
    try {
        bits = std::stoul(mode, &used, 8);
    } catch (const std::exception&) {
        used = 0;
    }
    // stoul also takes "", leading spaces and a sign; a mode is octal digits only.
    bool digits_only = !mode.empty() && mode.find_first_not_of("01234567") == std::string::npos;
    if (!digits_only || used != mode.size() || bits > 0777)
        return bad(origin("listen-mode") + "--listen-mode: '" + mode + "' is not an octal mode like 0660");
    result.listen_mode = static_cast<mode_t>(bits);
    if (values.count("listen-owner")) result.listen_owner = values["listen-owner"].as<std::string>();
    if (values.count("listen-group")) result.listen_group = values["listen-group"].as<std::string>();

    auto count = [&](const char* key, unsigned low, unsigned high, unsigned fallback) -> outcome<unsigned> {
        if (!values.count(key)) return fallback;
        const auto& text = values[key].as<std::string>();
        auto value = text.size() <= 6 ? parse_decimal(text) : std::nullopt;
        if (!value || *value < low || *value > high)
            return bad(origin(key) + "--" + key + ": '" + text + "' is not a whole number from " +
                       std::to_string(low) + " to " + std::to_string(high));
        return static_cast<unsigned>(*value);
    };
    auto workers = count("workers", 0, 256, std::max(2u, available_cpus()));
    if (!workers) return workers.error();
    result.workers = *workers;
    // Workers scale with the CPUs already; a single process takes their place.
    auto threads = count("threads", 1, 1024, result.workers == 0 ? std::max(2u, available_cpus()) : 2u);
    if (!threads) return threads.error();
    result.threads = *threads;
    auto policy = parse_rollback_policy(values["auto-rollback"].as<std::string>());
    if (!policy) return bad(origin("auto-rollback") + policy.reason());
    result.auto_rollback = *policy;
    // In dev mode a crashing experiment keeps answering its crash (500)
    // rather than being replaced by its previous version behind the
    // author's back; --auto-rollback given explicitly still applies.
    if (result.dev && values["auto-rollback"].defaulted()) result.auto_rollback.enabled = false;

    auto limit = [&](const char* key, std::uint64_t high) -> outcome<std::uint64_t> {
        if (!values.count(key)) return std::uint64_t{0};
        const auto& text = values[key].as<std::string>();
        auto value = text.size() <= 12 ? parse_decimal(text) : std::nullopt;
        if (!value || *value > high)
            return bad(origin(key) + "--" + key + ": '" + text + "' is not a whole number from 0 to " +
                       std::to_string(high));
        return *value;
    };
    auto max_requests = limit("max-requests", 1'000'000'000'000);
    if (!max_requests) return max_requests.error();
    auto max_rss = limit("max-rss", 1024 * 1024);
    if (!max_rss) return max_rss.error();
    auto max_lifetime = limit("max-lifetime", 366 * 86400);
    if (!max_lifetime) return max_lifetime.error();
    result.recycle = {*max_requests, *max_rss, std::chrono::seconds(static_cast<std::int64_t>(*max_lifetime))};

    if (values.count("module-path"))
        for (const auto& directory : values["module-path"].as<std::vector<std::string>>()) {
            if (directory.empty()) return bad(origin("module-path") + "--module-path: empty directory");
            result.module_path.push_back(std::filesystem::absolute(directory));
        }

    if (values.count("route")) {
        // Name the file line of a bad route when it came from the file.
        for (const auto& text : values["route"].as<std::vector<std::string>>()) {
            auto spec = parse_route(text);
            std::string where = where_set("route", text, file_entries, file);
            if (!spec) return bad(where + "--route: " + spec.reason());
            for (const auto& other : result.routes)
                if (other.pattern == spec->pattern)
                    return bad(where + "--route: path " + spec->pattern + " is routed twice");
            result.routes.push_back(std::move(*spec));
        }
    }

    if (values.count("max-in-flight")) {
        for (const auto& text : values["max-in-flight"].as<std::vector<std::string>>()) {
            std::string where = where_set("max-in-flight", text, file_entries, file);
            auto cap = parse_in_flight_cap(text, result.routes);
            if (!cap) return bad(where + cap.reason());
            for (const auto& other : result.max_in_flight)
                if (other.first == cap->first)
                    return bad(where + "--max-in-flight: route " + cap->first + " is capped twice");
            result.max_in_flight.push_back(std::move(*cap));
        }
    }
    if (values.count("route-setting")) {
        for (const auto& text : values["route-setting"].as<std::vector<std::string>>()) {
            std::string where = where_set("route-setting", text, file_entries, file);
            if (auto why = add_route_setting(text, result.routes)) return bad(where + "--route-setting: " + why->reason);
        }
    }

    result.admin_prefix = values["admin-prefix"].as<std::string>();
    if (!result.admin_prefix.starts_with('/') || !result.admin_prefix.ends_with('/'))
        return bad(origin("admin-prefix") + "--admin-prefix: must start and end with '/', like /-/");
    if (values.count("admin-token-file"))
        result.admin_token_file = std::filesystem::absolute(values["admin-token-file"].as<std::string>());
    if (values.count("admin-listen")) {
        result.admin_listen = values["admin-listen"].as<std::string>();
        if (!result.admin_token_file)
            return bad(origin("admin-listen") + "--admin-listen: needs --admin-token-file (admin is off without it)");
    }
    if (values.count("pid-file")) result.pid_file = std::filesystem::absolute(values["pid-file"].as<std::string>());

    auto level = parse_log_level(values["log-level"].as<std::string>());
    if (!level) return bad(origin("log-level") + "--log-level: expected error, warn, info or debug");
    result.level = *level;

    auto max_body = parse_byte_size(values["max-body"].as<std::string>());
    if (!max_body) return bad(origin("max-body") + max_body.reason());
    result.max_body = *max_body;
    auto limits = handler_limits(values, result.routes, origin);
    if (!limits) return limits.error();
    if (values.count("handler-timeout-grace")) {
        auto grace = parse_seconds("--handler-timeout-grace", values["handler-timeout-grace"].as<std::string>());
        if (!grace) return bad(origin("handler-timeout-grace") + grace.reason());
        result.handler_timeout_grace = *grace;
    }

    double drain = values["drain-timeout"].as<double>();
    if (!(drain >= 0 && drain <= 86400))
        return bad(origin("drain-timeout") + "--drain-timeout: must be between 0 and 86400 seconds");
    result.drain_timeout = std::chrono::milliseconds(static_cast<long long>(drain * 1000));
    double delay = values["shutdown-delay"].as<double>();
    if (!(delay >= 0 && delay <= 86400))
        return bad(origin("shutdown-delay") + "--shutdown-delay: must be between 0 and 86400 seconds");
    result.shutdown_delay = std::chrono::milliseconds(static_cast<long long>(delay * 1000));
    return result;
}

}  // namespace replug
