// replugctl's command line and the two addresses it can be given: the
// options with their defaults, the command with its ROUTE, --socket's
// unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT and :PORT, --url's
// http://HOST[:PORT]/PREFIX/; and each refusal with its one-line reason.
#define BOOST_TEST_MODULE ctl_options
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "ctl/fcgi_client.hpp"
#include "ctl/http_client.hpp"
#include "ctl/options.hpp"

using replug::failure_kind;
using replug::ctl::parse_http_url;
using replug::ctl::parse_targets;
using replug::ctl::target;
using replug::ctl::parse_options;
using replug::ctl::parse_socket_address;

namespace {

// The command line as typed, for failure messages.
std::string joined(const std::vector<std::string>& args) {
    std::string line;
    for (const auto& arg : args) line += (line.empty() ? "" : " ") + arg;
    return line;
}

replug::ctl::options parsed(const std::vector<std::string>& args) {
    auto result = parse_options(args);
    BOOST_TEST_REQUIRE(result.ok(), "parse_options(" << joined(args) << "): " << (result ? "" : result.reason()));
    return *result;
}

std::string refusal(const std::vector<std::string>& args) {
    auto result = parse_options(args);
    BOOST_TEST_REQUIRE(!result.ok(), "parse_options(" << joined(args) << ") should refuse");
    BOOST_TEST((result.kind() == failure_kind::bad_input));
    return result.reason();
}

replug::ctl::socket_address socket_address(std::string_view text) {
    auto result = parse_socket_address(text);
    BOOST_TEST_REQUIRE(result.ok(), "parse_socket_address(" << text << "): " << (result ? "" : result.reason()));
    BOOST_TEST(result->text == text);
    return *result;
}

std::string socket_refusal(std::string_view text) {
    auto result = parse_socket_address(text);
    BOOST_TEST_REQUIRE(!result.ok(), "parse_socket_address(" << text << ") should refuse");
    BOOST_TEST((result.kind() == failure_kind::bad_input));
    return result.reason();
}

replug::ctl::http_url http_url(std::string_view text) {
    auto result = parse_http_url(text);
    BOOST_TEST_REQUIRE(result.ok(), "parse_http_url(" << text << "): " << (result ? "" : result.reason()));
    BOOST_TEST(result->text == text);
    return *result;
}

std::string url_refusal(std::string_view text) {
    auto result = parse_http_url(text);
    BOOST_TEST_REQUIRE(!result.ok(), "parse_http_url(" << text << ") should refuse");
    BOOST_TEST((result.kind() == failure_kind::bad_input));
    return result.reason();
}

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(a_command_alone_takes_every_default) {
    auto given = parsed({"status"});
    BOOST_TEST(given.command == "status");
    BOOST_TEST(!given.route.has_value());
    BOOST_TEST((given.targets == std::vector<target>{{"unix:/run/replug/replugd.sock", false}}));
    BOOST_TEST(!given.targets_file.has_value());
    BOOST_TEST(given.check == false);
    BOOST_TEST(given.allow_plaintext_token == false);
    BOOST_TEST(given.admin_prefix == "/-/");
    BOOST_TEST(!given.token_file.has_value());
    BOOST_TEST(given.json == false);
    BOOST_TEST(given.timeout_seconds == 30.0);
    BOOST_TEST(given.help == false);
    BOOST_TEST(given.version == false);
}

BOOST_AUTO_TEST_CASE(every_option_is_read) {
    auto given = parsed({"--socket", "127.0.0.1:9000", "--admin-prefix", "/admin/", "--token-file", "/etc/token",
                         "--json", "--timeout", "2.5", "reload", "/pluggable"});
    BOOST_TEST((given.targets == std::vector<target>{{"127.0.0.1:9000", false}}));
    BOOST_TEST(given.admin_prefix == "/admin/");
    BOOST_TEST(given.token_file.value_or("") == "/etc/token");
    BOOST_TEST(given.json == true);
    BOOST_TEST(given.timeout_seconds == 2.5);
    BOOST_TEST(given.command == "reload");
    BOOST_TEST(given.route.value_or("") == "/pluggable");
}

BOOST_AUTO_TEST_CASE(options_may_follow_the_command_and_use_equals) {
    auto given = parsed({"rollback", "/p", "--url=http://127.0.0.1:8080/-/", "--timeout=0.5"});
    BOOST_TEST((given.targets == std::vector<target>{{"http://127.0.0.1:8080/-/", true}}));
    BOOST_TEST(given.timeout_seconds == 0.5);
    BOOST_TEST(given.command == "rollback");
    BOOST_TEST(given.route.value_or("") == "/p");
}

BOOST_AUTO_TEST_CASE(each_command_takes_its_arguments) {
    BOOST_TEST(!parsed({"status"}).route.has_value());
    BOOST_TEST(!parsed({"metrics"}).route.has_value());
    BOOST_TEST(!parsed({"reload"}).route.has_value());  // every route, after re-reading the config
    BOOST_TEST(parsed({"reload", "/p"}).route.value_or("") == "/p");
    BOOST_TEST(parsed({"rollback", "/echo/*"}).route.value_or("") == "/echo/*");
}

BOOST_AUTO_TEST_CASE(help_and_version_need_no_command) {
    auto help = parsed({"--help"});
    BOOST_TEST(help.help == true);
    BOOST_TEST(help.command == "");
    BOOST_TEST(parsed({"--version"}).version == true);
    // --help answers before the command and the values are judged.
    BOOST_TEST(parsed({"--help", "frobnicate", "--timeout", "0"}).help == true);
}

BOOST_AUTO_TEST_CASE(a_missing_or_unknown_command_is_refused) {
    BOOST_TEST(refusal({}) == "no command: give status, reload [ROUTE], rollback ROUTE or metrics");
    BOOST_TEST(refusal({"--json"}) == "no command: give status, reload [ROUTE], rollback ROUTE or metrics");
    BOOST_TEST(refusal({"restart"}) ==
               "unknown command 'restart': give status, reload [ROUTE], rollback ROUTE or metrics");
}

BOOST_AUTO_TEST_CASE(a_wrong_number_of_arguments_is_refused) {
    BOOST_TEST(refusal({"rollback"}) == "rollback: needs a ROUTE, like /pluggable");
    BOOST_TEST(refusal({"status", "/p"}) == "status: unexpected argument '/p' (it takes none)");
    BOOST_TEST(refusal({"metrics", "all"}) == "metrics: unexpected argument 'all' (it takes none)");
    BOOST_TEST(refusal({"reload", "/a", "/b"}) == "reload: unexpected argument '/b' (it takes one ROUTE)");
    BOOST_TEST(refusal({"rollback", "/a", "/b"}) == "rollback: unexpected argument '/b' (it takes one ROUTE)");
    BOOST_TEST(refusal({"reload", ""}) == "reload: the ROUTE is empty");
    BOOST_TEST(refusal({"rollback", ""}) == "rollback: the ROUTE is empty");
}

BOOST_AUTO_TEST_CASE(several_targets_keep_their_order_and_only_reload_route_takes_them) {
    auto given = parsed({"--socket", "/run/a.sock", "--url", "http://h/-/", "reload", "--socket=:9000", "/p",
                         "--check", "--allow-plaintext-token", "--targets", "/etc/fleet"});
    BOOST_TEST((given.targets == std::vector<target>{{"/run/a.sock", false}, {"http://h/-/", true}, {":9000", false}}));
    BOOST_TEST(given.targets_file.value_or("") == "/etc/fleet");
    BOOST_TEST(given.check == true);
    BOOST_TEST(given.allow_plaintext_token == true);
    BOOST_TEST(parsed({"--targets", "/etc/fleet", "reload", "/p"}).targets.empty());  // no default socket then
    const std::string several = "several targets (--socket, --url, --targets): only reload ROUTE takes more than one";
    BOOST_TEST(refusal({"--socket", "/run/r.sock", "--url", "http://h/-/", "status"}) == several);
    BOOST_TEST(refusal({"--socket", "/a", "--socket", "/b", "reload"}) == several);
    BOOST_TEST(refusal({"--targets", "/etc/fleet", "rollback", "/p"}) == several);
    BOOST_TEST(refusal({"--check", "reload"}) == "--check: only reload ROUTE can be checked");
    BOOST_TEST(refusal({"--check", "status"}) == "--check: only reload ROUTE can be checked");
}

BOOST_AUTO_TEST_CASE(a_targets_file_has_one_address_per_line) {
    auto listed = parse_targets("f", "# the fleet\nunix:/run/a.sock\n\n  http://10.0.0.5/-/  \nHTTPS://h/-/\n:9000");
    BOOST_TEST_REQUIRE(listed.ok());
    BOOST_TEST((*listed == std::vector<target>{{"unix:/run/a.sock", false}, {"http://10.0.0.5/-/", true},
                                                {"HTTPS://h/-/", true}, {":9000", false}}));
    auto two_on_a_line = parse_targets("f", "/a.sock\n/b.sock /c.sock\n");
    BOOST_TEST_REQUIRE(!two_on_a_line.ok());
    BOOST_TEST(two_on_a_line.reason() == "--targets f:2: one address per line, got '/b.sock /c.sock'");
    BOOST_TEST((two_on_a_line.kind() == failure_kind::bad_input));
    BOOST_TEST(parse_targets("f", "# nothing\n\n").reason() == "--targets f: no target in the file");
}

BOOST_AUTO_TEST_CASE(an_admin_prefix_must_start_and_end_with_a_slash) {
    const std::string reason = "--admin-prefix: must start and end with '/', like /-/";
    BOOST_TEST(refusal({"--admin-prefix", "-/", "status"}) == reason);
    BOOST_TEST(refusal({"--admin-prefix", "/-", "status"}) == reason);
    BOOST_TEST(refusal({"--admin-prefix", "", "status"}) == reason);
    BOOST_TEST(parsed({"--admin-prefix", "/", "status"}).admin_prefix == "/");
}

BOOST_AUTO_TEST_CASE(a_timeout_is_above_zero_and_at_most_a_day) {
    const std::string reason = "--timeout: must be a number of seconds above 0 (and at most a day)";
    BOOST_TEST(refusal({"--timeout", "0", "status"}) == reason);
    BOOST_TEST(refusal({"--timeout=-1", "status"}) == reason);
    BOOST_TEST(refusal({"--timeout", "86400.5", "status"}) == reason);
    BOOST_TEST(refusal({"--timeout", "nan", "status"}) == reason);
    BOOST_TEST(refusal({"--timeout", "inf", "status"}) == reason);
    BOOST_TEST(parsed({"--timeout", "86400", "status"}).timeout_seconds == 86400.0);
    BOOST_TEST(parsed({"--timeout", "0.001", "status"}).timeout_seconds == 0.001);
}

BOOST_AUTO_TEST_CASE(what_the_option_parser_refuses_names_the_option) {
    BOOST_TEST(mentions(refusal({"--timeout", "soon", "status"}), "--timeout"));
    BOOST_TEST(mentions(refusal({"--bogus", "status"}), "--bogus"));
    BOOST_TEST(mentions(refusal({"status", "--socket"}), "--socket"));
    BOOST_TEST(mentions(refusal({"--json=yes", "status"}), "--json"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(socket_addresses)

BOOST_AUTO_TEST_CASE(a_unix_socket_by_prefix_or_by_absolute_path) {
    auto prefixed = socket_address("unix:/run/replug/replugd.sock");
    BOOST_TEST(prefixed.unix_path == "/run/replug/replugd.sock");
    BOOST_TEST(prefixed.host == "");
    auto bare = socket_address("/tmp/r.sock");
    BOOST_TEST(bare.unix_path == "/tmp/r.sock");
    BOOST_TEST(bare.host == "");
}

BOOST_AUTO_TEST_CASE(a_tcp_host_and_port) {
    auto v4 = socket_address("127.0.0.1:9000");
    BOOST_TEST(v4.unix_path == "");
    BOOST_TEST(v4.host == "127.0.0.1");
    BOOST_TEST(v4.port == "9000");
    auto named = socket_address("replug.internal:9000");
    BOOST_TEST(named.host == "replug.internal");
    BOOST_TEST(named.port == "9000");
}

BOOST_AUTO_TEST_CASE(an_ipv6_address_loses_its_brackets) {
    auto v6 = socket_address("[::1]:9000");
    BOOST_TEST(v6.host == "::1");
    BOOST_TEST(v6.port == "9000");
}

BOOST_AUTO_TEST_CASE(a_port_alone_means_loopback) {
    auto local = socket_address(":9000");
    BOOST_TEST(local.host == "127.0.0.1");
    BOOST_TEST(local.port == "9000");
}

BOOST_AUTO_TEST_CASE(refusals_name_the_socket_and_say_what_is_wrong) {
    BOOST_TEST(socket_refusal("unix:") == "--socket unix:: no path after unix:");
    BOOST_TEST(socket_refusal("replugd.sock") ==
               "--socket replugd.sock: expected unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT or :PORT");
    BOOST_TEST(socket_refusal("") == "--socket : expected unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT or :PORT");
    BOOST_TEST(socket_refusal("localhost:") == "--socket localhost:: the port must be a number from 0 to 65535");
    BOOST_TEST(socket_refusal("localhost:http") == "--socket localhost:http: the port must be a number from 0 to 65535");
    BOOST_TEST(socket_refusal("[::1]") == "--socket [::1]: expected unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT or :PORT");
    BOOST_TEST(socket_refusal("127.0.0.1:99999") == "--socket 127.0.0.1:99999: the port must be a number from 0 to 65535");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_urls)

BOOST_AUTO_TEST_CASE(host_port_and_admin_prefix) {
    auto url = http_url("http://127.0.0.1:8080/-/");
    BOOST_TEST(url.host == "127.0.0.1");
    BOOST_TEST(url.port == "8080");
    BOOST_TEST(url.prefix == "/-/");
}

BOOST_AUTO_TEST_CASE(the_port_defaults_to_80) {
    BOOST_TEST(http_url("http://example.com/-/").port == "80");
    BOOST_TEST(http_url("http://example.com:/-/").port == "80");  // an empty port is the default (RFC 3986)
}

BOOST_AUTO_TEST_CASE(the_prefix_gets_its_final_slash_and_is_empty_without_a_path) {
    BOOST_TEST(http_url("http://example.com/admin").prefix == "/admin/");
    BOOST_TEST(http_url("http://example.com/a/b/").prefix == "/a/b/");
    BOOST_TEST(http_url("http://example.com/").prefix == "");
    BOOST_TEST(http_url("http://example.com").prefix == "");
    BOOST_TEST(http_url("http://example.com:8080").port == "8080");
}

BOOST_AUTO_TEST_CASE(an_ipv6_host_loses_its_brackets) {
    auto url = http_url("http://[::1]:8080/-/");
    BOOST_TEST(url.host == "::1");
    BOOST_TEST(url.port == "8080");
    BOOST_TEST(url.prefix == "/-/");
    BOOST_TEST(http_url("http://[::1]/").port == "80");
}

BOOST_AUTO_TEST_CASE(the_scheme_is_case_insensitive) {
    auto url = http_url("HTTP://Example.com/-/");
    BOOST_TEST(url.host == "Example.com");
    BOOST_TEST(url.prefix == "/-/");
}

BOOST_AUTO_TEST_CASE(refusals_name_the_url_and_say_what_is_wrong) {
    BOOST_TEST(url_refusal("https://example.com/-/") ==
               "--url https://example.com/-/: replugctl speaks no TLS; use an ssh tunnel (ssh -L) and an http:// URL on loopback, or --socket");
    BOOST_TEST(url_refusal("ftp://example.com/") == "--url ftp://example.com/: expected http://HOST[:PORT]/PREFIX/");
    BOOST_TEST(url_refusal("example.com:80") == "--url example.com:80: expected http://HOST[:PORT]/PREFIX/");
    BOOST_TEST(url_refusal("http://h/-/?x=1") == "--url http://h/-/?x=1: the URL must not have a query or fragment");
    BOOST_TEST(url_refusal("http://h/-/#top") == "--url http://h/-/#top: the URL must not have a query or fragment");
    BOOST_TEST(url_refusal("http://user:pw@h/-/") ==
               "--url http://user:pw@h/-/: user information in the URL is not supported");
    BOOST_TEST(url_refusal("http://[::1/-/") == "--url http://[::1/-/: unterminated [IPV6] address");
    BOOST_TEST(url_refusal("http://[::1]8080/") == "--url http://[::1]8080/: expected :PORT after the [IPV6] address");
    BOOST_TEST(url_refusal("http:///-/") == "--url http:///-/: no host");
    BOOST_TEST(url_refusal("http://:8080/") == "--url http://:8080/: no host");
    BOOST_TEST(url_refusal("http://[]:8080/") == "--url http://[]:8080/: no host");
    BOOST_TEST(url_refusal("http://h:80a/") == "--url http://h:80a/: the port must be a number from 0 to 65535");
    BOOST_TEST(url_refusal("http://[::1]:x/") == "--url http://[::1]:x/: the port must be a number from 0 to 65535");
}

BOOST_AUTO_TEST_SUITE_END()
