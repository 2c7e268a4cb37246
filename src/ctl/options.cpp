#include "ctl/options.hpp"

#include <boost/program_options.hpp>
#include <sstream>

#include "text.hpp"

namespace po = boost::program_options;

namespace replug::ctl {

namespace {

constexpr const char* default_socket = "unix:/run/replug/replugd.sock";

po::options_description describe_options() {
    po::options_description options("Options");
    options.add_options()
        ("socket", po::value<std::vector<std::string>>()->value_name("ADDR"),
         "replugd's listening socket, spoken to in FastCGI: unix:PATH (or just /PATH), HOST:PORT, [IPV6]:PORT "
         "or :PORT "
         "(default: unix:/run/replug/replugd.sock); repeat it for a fleet")
        ("url", po::value<std::vector<std::string>>()->value_name("URL"),
         "instead of --socket, plain HTTP through the front server: http://HOST[:PORT]/PREFIX/, "
         "the URL of the admin prefix; repeat it for a fleet")
        ("targets", po::value<std::string>()->value_name("FILE"),
         "more targets, one --socket ADDR or --url URL per line (# comments)")
        ("admin-prefix", po::value<std::string>()->value_name("P")->default_value("/-/"),
         "replugd's --admin-prefix (for --socket, and for a --url without a path)")
        ("token-file", po::value<std::string>()->value_name("FILE"),
         "read the admin token from the first line of FILE (default: $REPLUG_TOKEN)")
        ("json", po::bool_switch(), "print the server's JSON answer as it is")
        ("check", po::bool_switch(), "reload: load and check the new version, swap nothing")
        ("allow-plaintext-token", po::bool_switch(),
         "send the token unencrypted to a host that is not loopback (a network you trust)")
        ("timeout", po::value<double>()->value_name("SECONDS")->default_value(30),
         "give up when an exchange with one target takes longer")
        ("version", po::bool_switch(), "print the version and exit")
        ("help", po::bool_switch(), "print this help and exit");
    return options;
}

failure bad(const std::string& why) { return failure{why, failure_kind::bad_input}; }

}  // namespace

std::string usage() {
    std::ostringstream text;
    text << "Usage: replugctl [OPTIONS] status\n"
            "       replugctl [OPTIONS] reload [ROUTE]\n"
            "       replugctl [OPTIONS] rollback ROUTE\n"
            "       replugctl [OPTIONS] metrics\n"
            "Asks a running replugd, through its admin endpoints, for its status, or to\n"
            "reload or roll back routes.\n\n"
            "Commands:\n"
            "  status                every route: module, version, generation, counters,\n"
            "                        draining versions, file, last reload error\n"
            "  reload [ROUTE]        reload ROUTE from its module file as it is on disk now;\n"
            "                        without ROUTE, re-read the config and reload every route;\n"
            "                        with --check, load and check it but swap nothing; with\n"
            "                        several targets, check on all, then swap on all, and roll\n"
            "                        back the swapped ones if one swap fails\n"
            "  rollback ROUTE        put ROUTE back on its previous version\n"
            "  metrics               print the Prometheus metrics\n\n"
         << describe_options()
         << "\nExit status: 0 success; 1 the server refused (answered an error, its reason on\n"
            "stderr); 2 usage or configuration error; 3 no answer (cannot connect, timeout).\n"
            "With several targets: 1 if any refused, else 3 if any did not answer.\n";
    return text.str();
}

outcome<options> parse_options(const std::vector<std::string>& args) {
    po::positional_options_description positional;
    positional.add("command", 1).add("arguments", -1);
    po::options_description hidden;
    hidden.add_options()
        ("command", po::value<std::string>())
        ("arguments", po::value<std::vector<std::string>>());
    po::options_description all;
    all.add(describe_options()).add(hidden);

    po::variables_map values;
    options result;
    try {
        auto parsed = po::command_line_parser(args).options(all).positional(positional).run();
        po::store(parsed, values);
        po::notify(values);
        for (const auto& option : parsed.options)  // --socket and --url in the order given
            if (option.string_key == "socket" || option.string_key == "url")
                for (const auto& value : option.value) result.targets.push_back({value, option.string_key == "url"});
    } catch (const po::error& error) {
        return bad(error.what());
    }

    result.help = values["help"].as<bool>();
    result.version = values["version"].as<bool>();
    if (result.help || result.version) return result;

    if (values.count("targets")) result.targets_file = values["targets"].as<std::string>();
    if (result.targets.empty() && !result.targets_file) result.targets.push_back({default_socket, false});
    result.admin_prefix = values["admin-prefix"].as<std::string>();
    if (!result.admin_prefix.starts_with('/') || !result.admin_prefix.ends_with('/'))
        return bad("--admin-prefix: must start and end with '/', like /-/");
    if (values.count("token-file")) result.token_file = values["token-file"].as<std::string>();
    result.json = values["json"].as<bool>();
    result.check = values["check"].as<bool>();
    result.allow_plaintext_token = values["allow-plaintext-token"].as<bool>();
    result.timeout_seconds = values["timeout"].as<double>();
    if (!(result.timeout_seconds > 0 && result.timeout_seconds <= 86400))
        return bad("--timeout: must be a number of seconds above 0 (and at most a day)");

    if (!values.count("command")) return bad("no command: give status, reload [ROUTE], rollback ROUTE or metrics");
    result.command = values["command"].as<std::string>();
    auto arguments = values.count("arguments") ? values["arguments"].as<std::vector<std::string>>()
                                               : std::vector<std::string>{};
    std::size_t most = result.command == "reload" || result.command == "rollback" ? 1 : 0;
    std::size_t least = result.command == "rollback" ? 1 : 0;
    if (result.command != "status" && result.command != "reload" && result.command != "rollback" &&
        result.command != "metrics")
        return bad("unknown command '" + result.command + "': give status, reload [ROUTE], rollback ROUTE or metrics");
    if (arguments.size() < least) return bad(result.command + ": needs a ROUTE, like /pluggable");
    if (arguments.size() > most)
        return bad(result.command + ": unexpected argument '" + arguments[most] + "'" +
                   (most == 0 ? " (it takes none)" : " (it takes one ROUTE)"));
    if (!arguments.empty()) {
        result.route = arguments.front();
        if (result.route->empty()) return bad(result.command + ": the ROUTE is empty");
    }
    bool one_route_reload = result.command == "reload" && result.route;
    if (result.check && !one_route_reload) return bad("--check: only reload ROUTE can be checked");
    if ((result.targets.size() > 1 || result.targets_file) && !one_route_reload)
        return bad("several targets (--socket, --url, --targets): only reload ROUTE takes more than one");
    return result;
}

outcome<std::vector<target>> parse_targets(const std::string& file, std::string_view text) {
    std::vector<target> found;
    std::size_t number = 0;
    while (!text.empty()) {
        auto end = text.find('\n');
        std::string line = trim(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++number;
        if (line.empty() || line.starts_with('#')) continue;
        if (line.find_first_of(" \t") != std::string::npos)
            return bad("--targets " + file + ":" + std::to_string(number) + ": one address per line, got '" + line +
                       "'");
        bool http = equal_ignoring_case(std::string_view(line).substr(0, 7), "http://") ||
                    equal_ignoring_case(std::string_view(line).substr(0, 8), "https://");
        found.push_back({line, http});
    }
    if (found.empty()) return bad("--targets " + file + ": no target in the file");
    return found;
}

}  // namespace replug::ctl
