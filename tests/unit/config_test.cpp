// Options on the command line and in an INI file (--config FILE): the command
// line wins, repeated keys keep their order, and every refusal is one line
// naming the option, and the file and line when it comes from the file.
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "config.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using replug::parse_config;
using replug::parse_route;
using replug::route_spec;
using replug::testing::temp_dir;

namespace {

struct config_fixture {
    temp_dir directory;
    fs::path file = directory / "replug.conf";

    void write(const std::string& text) { replug::testing::overwrite_in_place(file, text); }

    replug::config parsed(const std::vector<std::string>& args) {
        auto result = parse_config(args);
        BOOST_TEST_REQUIRE(result.ok(), "refused: " << replug::testing::reason_of(result));
        return std::move(*result);
    }

    std::string refused(const std::vector<std::string>& args) {
        auto result = parse_config(args);
        BOOST_TEST_REQUIRE(!result.ok(), "accepted, expected a refusal");
        BOOST_TEST(result.kind() == replug::failure_kind::bad_input);
        BOOST_TEST(result.reason().find('\n') == std::string::npos, "not one line: " << result.reason());
        return result.reason();
    }

    std::string at_line(int line) const { return file.string() + ":" + std::to_string(line) + ":"; }
};

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(configuration, config_fixture)

BOOST_AUTO_TEST_CASE(defaults) {
    auto config = parsed({});
    BOOST_TEST(config.admin_prefix == "/-/");
    BOOST_TEST(config.listen_mode == 0660u);
    BOOST_TEST(config.listen == "");
    BOOST_TEST(config.threads >= 1u);
    BOOST_TEST(config.module_path.empty());
    BOOST_TEST(config.routes.empty());
    BOOST_TEST(!config.config_file.has_value());
    BOOST_TEST(!config.admin_token_file.has_value());
    BOOST_TEST(!config.pid_file.has_value());
    BOOST_TEST((config.level == replug::log_level::info));
    BOOST_TEST(!config.check);
    BOOST_TEST(!config.help);
    BOOST_TEST(!config.version);
}

BOOST_AUTO_TEST_CASE(dev_mode_turns_automatic_rollback_off_unless_told) {
    auto plain = parsed({});
    BOOST_TEST(!plain.dev.has_value());
    BOOST_TEST(plain.auto_rollback.enabled);
    auto dev = parsed({"--dev", "experiments/"});
    BOOST_TEST(dev.dev.value() == fs::absolute("experiments"));
    BOOST_TEST(!dev.auto_rollback.enabled);
    auto told = parsed({"--dev", "experiments", "--auto-rollback", "3:10:60"});
    BOOST_TEST(told.auto_rollback.enabled);
    BOOST_TEST(told.auto_rollback.crashes == 3u);
    // The directory itself is checked where dev mode starts (so that --check
    // reads a config file with a dev line on any machine).
    BOOST_TEST(refused({"--dev", ""}) == "--dev: empty directory");
}

BOOST_AUTO_TEST_CASE(loopback_addresses) {
    for (const char* address : {"127.0.0.1:8000", "127.1.2.3:80", "[::1]:9000", "localhost:8000", "unix:/run/x.sock"})
        BOOST_TEST(replug::loopback_address(address), address);
    for (const char* address : {":8000", "0.0.0.0:8000", "[::]:8000", "192.168.1.2:80", "example.org:80", "[::1"})
        BOOST_TEST(!replug::loopback_address(address), address);
}

BOOST_AUTO_TEST_CASE(command_line) {
    auto config = parsed({"--listen", "127.0.0.1:9000", "--threads", "3", "--route", "/b/*=beta",
                          "--module-path", "/srv/one", "--route=/a=alpha:handle", "--module-path", "relative/two",
                          "--route", "/c=gamma", "--listen-mode", "0600", "--admin-prefix", "/admin/",
                          "--log-level", "debug", "--check"});
    BOOST_TEST(config.listen == "127.0.0.1:9000");
    BOOST_TEST(config.threads == 3u);
    BOOST_TEST(config.listen_mode == 0600u);
    BOOST_TEST(config.admin_prefix == "/admin/");
    BOOST_TEST((config.level == replug::log_level::debug));
    BOOST_TEST(config.check);
    std::vector<route_spec> routes{{"/b/*", "beta", "serve"}, {"/a", "alpha", "handle"}, {"/c", "gamma", "serve"}};
    BOOST_TEST_REQUIRE(config.routes.size() == routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) BOOST_TEST((config.routes[i] == routes[i]), "route " << i);
    std::vector<fs::path> paths{"/srv/one", fs::absolute("relative/two")};
    BOOST_TEST(config.module_path == paths, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(config_file) {
    write("# replugd configuration\n"
          "listen = unix:/run/replug.sock\n"
          "\n"
          "; comment\n"
          "  listen-mode = 0600  \n"
          "threads=2\n"
          "module-path = /srv/modules\n"
          "module-path = /opt/modules\n"
          "route = /z=zeta\n"
          "route = /y/*=shop/cart:checkout\n"
          "route = /x=xi\n"
          "admin-prefix = /-admin-/\n"
          "log-level = warn\n");
    auto config = parsed({"--config", file.string()});
    BOOST_TEST(config.listen == "unix:/run/replug.sock");
    BOOST_TEST(config.listen_mode == 0600u);
    BOOST_TEST(config.threads == 2u);
    BOOST_TEST(config.admin_prefix == "/-admin-/");
    BOOST_TEST((config.level == replug::log_level::warn));
    BOOST_TEST_REQUIRE(config.config_file.has_value());
    BOOST_TEST(*config.config_file == fs::absolute(file));
    std::vector<route_spec> routes{{"/z", "zeta", "serve"}, {"/y/*", "shop/cart", "checkout"}, {"/x", "xi", "serve"}};
    BOOST_TEST_REQUIRE(config.routes.size() == routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) BOOST_TEST((config.routes[i] == routes[i]), "route " << i);
    std::vector<fs::path> paths{"/srv/modules", "/opt/modules"};
    BOOST_TEST(config.module_path == paths, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(command_line_wins) {
    write("listen = :1111\n"
          "threads = 2\n"
          "listen-mode = 0600\n"
          "admin-prefix = /from-file/\n"
          "route = /file=from_file\n"
          "module-path = /file\n"
          "log-level = debug\n");
    auto config = parsed({"--listen", ":2222", "--config", file.string(), "--threads", "5", "--listen-mode", "0640",
                          "--route", "/cli=from_cli", "--route", "/cli2=from_cli"});
    BOOST_TEST(config.listen == ":2222");
    BOOST_TEST(config.threads == 5u);
    BOOST_TEST(config.listen_mode == 0640u);
    BOOST_TEST_REQUIRE(config.routes.size() == 2u);  // the command line's list replaces the file's
    BOOST_TEST(config.routes[0].pattern == "/cli");
    BOOST_TEST(config.routes[1].pattern == "/cli2");
    // What the command line does not set comes from the file, defaults included.
    BOOST_TEST(config.admin_prefix == "/from-file/");
    BOOST_TEST((config.level == replug::log_level::debug));
    BOOST_TEST_REQUIRE(config.module_path.size() == 1u);
    BOOST_TEST(config.module_path[0] == fs::path("/file"));
}

BOOST_AUTO_TEST_CASE(a_file_value_replaces_a_default) {
    write("listen-mode = 0600\n");
    BOOST_TEST(parsed({"--config", file.string()}).listen_mode == 0600u);
}

BOOST_AUTO_TEST_CASE(unknown_key_in_the_file_names_file_and_line) {
    write("listen = :9000\n"
          "# a comment\n"
          "bogus-option = 1\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(3)), why);
    BOOST_TEST(contains(why, "bogus-option"), why);
}

BOOST_AUTO_TEST_CASE(a_prefix_of_an_option_is_not_the_option) {
    write("rout = /x=m\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(1)), why);
}

BOOST_AUTO_TEST_CASE(config_inside_the_file_is_refused) {
    write("\nconfig = /etc/other.conf\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
}

BOOST_AUTO_TEST_CASE(a_line_without_equals) {
    write("listen = :9000\nthreads 4\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "KEY = VALUE"), why);
}

BOOST_AUTO_TEST_CASE(bad_route_in_the_file_names_its_line) {
    write("route = /good=good\n"
          "\n"
          "route = /bad*=bad\n"
          "route = /also-good=good\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(3)), why);
    BOOST_TEST(contains(why, "--route"), why);
    BOOST_TEST(contains(why, "/bad*=bad"), why);
}

BOOST_AUTO_TEST_CASE(bad_route_on_the_command_line) {
    std::string why = refused({"--route", "/x=../escape"});
    BOOST_TEST(contains(why, "--route"), why);
    BOOST_TEST(contains(why, "/x=../escape"), why);
}

BOOST_AUTO_TEST_CASE(a_path_routed_twice) {
    std::string why = refused({"--route", "/x=a", "--route", "/x=b"});
    BOOST_TEST(contains(why, "/x"), why);
    BOOST_TEST(contains(why, "twice"), why);
}

BOOST_AUTO_TEST_CASE(bad_listen_mode) {
    for (std::string mode : {"abc", "0999", "8", "01777", "", "0660x", "-1", "rw-rw----", " 660", "+660", "0x1b6"}) {
        std::string why = refused({"--listen-mode", mode});
        BOOST_TEST(contains(why, "--listen-mode"), "mode '" << mode << "': " << why);
    }
    write("threads = 2\nlisten-mode = 66O\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "--listen-mode"), why);
}

BOOST_AUTO_TEST_CASE(listen_modes_are_octal) {
    BOOST_TEST(parsed({"--listen-mode", "600"}).listen_mode == 0600u);
    BOOST_TEST(parsed({"--listen-mode", "0666"}).listen_mode == 0666u);
    BOOST_TEST(parsed({"--listen-mode", "0"}).listen_mode == 0u);
}

BOOST_AUTO_TEST_CASE(a_bad_value_in_the_file_names_its_line) {
    write("listen = :9000\nthreads = many\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "threads"), why);
}

BOOST_AUTO_TEST_CASE(max_body_takes_bytes_or_a_binary_suffix) {
    BOOST_TEST(parsed({}).max_body == 16u << 20);
    BOOST_TEST(parsed({"--max-body", "0"}).max_body == 0u);
    BOOST_TEST(parsed({"--max-body", "1000"}).max_body == 1000u);
    BOOST_TEST(parsed({"--max-body", "64k"}).max_body == 64u << 10);
    BOOST_TEST(parsed({"--max-body", "100M"}).max_body == 100u << 20);
    BOOST_TEST(parsed({"--max-body", "64G"}).max_body == 64ull << 30);
    write("max-body = 2M\n");
    BOOST_TEST(parsed({"--config", file.string()}).max_body == 2u << 20);
    write("\nmax-body = 2 MB\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "--max-body"), why);
}

BOOST_AUTO_TEST_CASE(unreadable_config_file) {
    std::string missing = (directory / "missing.conf").string();
    std::string why = refused({"--config", missing});
    BOOST_TEST(contains(why, "--config"), why);
    BOOST_TEST(contains(why, missing), why);

    // A directory opens, but there is no file to read.
    why = refused({"--config", directory.path().string()});
    BOOST_TEST(contains(why, "--config"), why);
    BOOST_TEST(contains(why, directory.path().string()), why);
}

BOOST_AUTO_TEST_CASE(other_refusals_name_the_option) {
    struct bad_case {
        std::vector<std::string> args;
        std::string mentions;
    };
    for (const auto& [args, mentions] : std::vector<bad_case>{
             {{"--no-such-option"}, "no-such-option"},
             {{"--threads", "0"}, "--threads"},
             {{"--threads", "lots"}, "threads"},
             {{"--log-level", "verbose"}, "--log-level"},
             {{"--admin-prefix", "admin"}, "--admin-prefix"},
             {{"--admin-prefix", "/admin"}, "--admin-prefix"},
             {{"--listen", ""}, "--listen"},
             {{"--module-path", ""}, "--module-path"},
             {{"--listen", ":1", "--listen", ":2"}, "listen"},
             {{"--route", "/a=a", "--route-setting", "/b:k=v"}, "--route-setting: bad route setting '/b:k=v': no route /b"},
             {{"--route", "/a=a", "--route-setting", "/a:=v"}, "the key is empty"},
             {{"--route", "/a=a", "--route-setting", "/a:k"}, "expected PATH:KEY=VALUE"},
             {{"--route", "/a=a", "--route-setting", "/a"}, "expected PATH:KEY=VALUE"},
             {{"--route", "/a=a", "--route-setting", "/a:k y=v"}, "KEY must be"},
             {{"--route", "/a=a", "--route-setting", "/a:k=1", "--route-setting", "/a:k=2"}, "key k is set twice"},
             {{"--max-body", ""}, "--max-body"},
             {{"--max-body", "lots"}, "--max-body"},
             {{"--max-body", "-1"}, "--max-body"},
             {{"--max-body", "16MB"}, "--max-body"},
             {{"--max-body", "65G"}, "--max-body"},
             {{"--max-body", "K"}, "--max-body"},
             {{"--max-body", "99999999999999999999"}, "--max-body"},
         }) {
        std::string why = refused(args);
        BOOST_TEST(contains(why, mentions), "expected '" << mentions << "' in: " << why);
    }
}

BOOST_AUTO_TEST_CASE(recycling_limits_default_to_off_and_parse) {
    auto defaults = parsed({});
    BOOST_TEST(!defaults.recycle.any());
    BOOST_TEST(defaults.max_in_flight.empty());
    auto set = parsed({"--max-requests", "1000", "--max-rss", "64", "--max-lifetime", "3600"});
    BOOST_TEST(set.recycle.max_requests == 1000u);
    BOOST_TEST(set.recycle.max_rss_mib == 64u);
    BOOST_TEST(set.recycle.max_lifetime.count() == 3600);
    BOOST_TEST(!parsed({"--max-requests", "0"}).recycle.any());  // 0: off, as the default

    write("max-rss = 128\nmax-lifetime = 60\n");
    auto from_file = parsed({"--config", file.string()});
    BOOST_TEST(from_file.recycle.max_rss_mib == 128u);
    BOOST_TEST(from_file.recycle.max_lifetime.count() == 60);
}

BOOST_AUTO_TEST_CASE(bad_recycling_limits_name_the_option) {
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--max-requests", "-1"}, {"--max-requests", "many"}, {"--max-requests", "1.5"},
             {"--max-requests", ""}, {"--max-rss", "-64"}, {"--max-rss", "64M"}, {"--max-rss", "2000000"},
             {"--max-lifetime", "-2"}, {"--max-lifetime", "1h"}, {"--max-lifetime", "99999999999"}}) {
        std::string why = refused({option, value});
        BOOST_TEST(why.starts_with(option + ": '" + value + "' is not a whole number from 0 to "), why);
    }
    write("listen = :9000\nmax-rss = lots\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "--max-rss: 'lots'"), why);
}

BOOST_AUTO_TEST_CASE(max_in_flight_caps_a_configured_route) {
    auto caps = parsed({"--route", "/slow=nap", "--route", "/hello=hello", "--max-in-flight", "/slow=2",
                        "--max-in-flight", "/hello=100"});
    BOOST_TEST(caps.max_in_flight.size() == 2u);
    BOOST_TEST(caps.max_in_flight[0].first == "/slow");
    BOOST_TEST(caps.max_in_flight[0].second == 2u);
    BOOST_TEST(caps.max_in_flight[1].second == 100u);
    // A prefix route is capped as written.
    BOOST_TEST(parsed({"--route", "/api/*=api", "--max-in-flight", "/api/*=4"}).max_in_flight[0].first == "/api/*");

    for (const auto& [args, mentions] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--route", "/slow=nap", "--max-in-flight", "/other=2"}, "no route /other"},
             {{"--max-in-flight", "/slow=2"}, "no route /slow"},
             {{"--route", "/slow=nap", "--max-in-flight", "/slow=0"}, "N is not a whole number from 1 to 1000000"},
             {{"--route", "/slow=nap", "--max-in-flight", "/slow=-1"}, "N is not a whole number"},
             {{"--route", "/slow=nap", "--max-in-flight", "/slow=two"}, "N is not a whole number"},
             {{"--route", "/slow=nap", "--max-in-flight", "/slow"}, "expected PATH=N"},
             {{"--route", "/slow=nap", "--max-in-flight", "/slow=2", "--max-in-flight", "/slow=3"}, "capped twice"},
         }) {
        std::string why = refused(args);
        BOOST_TEST(why.starts_with("--max-in-flight: "), why);
        BOOST_TEST(contains(why, mentions), "expected '" << mentions << "' in: " << why);
    }
    write("route = /slow=nap\nmax-in-flight = /nope=1\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(2)), why);
    BOOST_TEST(contains(why, "no route /nope"), why);
}

BOOST_AUTO_TEST_CASE(handler_timeouts_default_to_30_seconds_and_the_slow_log_is_off) {
    auto config = parsed({"--route", "/a=a", "--route", "/b=b"});
    for (const auto& route : config.routes) {
        BOOST_TEST(route.handler_timeout.count() == 30000);
        BOOST_TEST(route.slow_log.count() == 0);
    }
    BOOST_TEST(config.handler_timeout_grace.count() == 5000);
}

BOOST_AUTO_TEST_CASE(a_route_s_own_timeout_beats_the_default) {
    auto config = parsed({"--route", "/a=a", "--route", "/b=b", "--route", "/c/*=c", "--handler-timeout", "/a=0.5",
                          "--handler-timeout", "2.25", "--handler-timeout", "/c/*=0", "--slow-log", ".25",
                          "--handler-timeout-grace", "1"});
    BOOST_TEST(config.routes[0].handler_timeout.count() == 500);
    BOOST_TEST(config.routes[1].handler_timeout.count() == 2250);
    BOOST_TEST(config.routes[2].handler_timeout.count() == 0);  // 0: no timeout
    for (const auto& route : config.routes) BOOST_TEST(route.slow_log.count() == 250);
    BOOST_TEST(config.handler_timeout_grace.count() == 1000);
}

BOOST_AUTO_TEST_CASE(handler_timeouts_in_the_file) {
    write("route = /a=a\nroute = /b=b\nhandler-timeout = 10\nhandler-timeout = /b=1.5\nslow-log = 3\n");
    auto config = parsed({"--config", file.string()});
    BOOST_TEST(config.routes[0].handler_timeout.count() == 10000);
    BOOST_TEST(config.routes[1].handler_timeout.count() == 1500);
    BOOST_TEST(config.routes[1].slow_log.count() == 3000);
}

BOOST_AUTO_TEST_CASE(bad_handler_timeouts_are_refused_naming_the_option) {
    struct bad_case {
        std::vector<std::string> args;
        std::string mentions;
    };
    for (const auto& [args, mentions] : std::vector<bad_case>{
             {{"--handler-timeout", "-1"}, "--handler-timeout: '-1' is not a number of seconds"},
             {{"--handler-timeout", "abc"}, "--handler-timeout: 'abc' is not a number of seconds"},
             {{"--handler-timeout", ""}, "--handler-timeout: '' is not a number of seconds"},
             {{"--handler-timeout", "."}, "--handler-timeout: '.' is not a number of seconds"},
             {{"--handler-timeout", "1.2.3"}, "--handler-timeout: '1.2.3' is not a number of seconds"},
             {{"--handler-timeout", "1e3"}, "--handler-timeout: '1e3' is not a number"},
             {{"--handler-timeout", "inf"}, "--handler-timeout: 'inf' is not a number"},
             {{"--handler-timeout", "+1"}, "--handler-timeout: '+1' is not a number"},
             {{"--handler-timeout", "86401"}, "from 0 to 86400"},
             {{"--handler-timeout", "0.0001"}, "--handler-timeout: '0.0001' is below a millisecond"},
             {{"--handler-timeout", "/a=x"}, "--handler-timeout: 'x' is not a number"},
             {{"--handler-timeout", "/nowhere=1"}, "--handler-timeout: /nowhere is not the path of any --route"},
             {{"--handler-timeout", "a=1"}, "--handler-timeout: 'a=1': expected [PATH=]SECONDS"},
             {{"--handler-timeout", "/a=1", "--handler-timeout", "/a=2"}, "--handler-timeout: /a is given twice"},
             {{"--handler-timeout", "1", "--handler-timeout", "2"}, "the default (no PATH=) is given twice"},
             {{"--slow-log", "-1"}, "--slow-log: '-1' is not a number of seconds"},
             {{"--slow-log", "soon"}, "--slow-log"},
             {{"--handler-timeout-grace", "-5"}, "--handler-timeout-grace: '-5' is not a number"},
         }) {
        std::vector<std::string> with_route{"--route", "/a=a"};
        with_route.insert(with_route.end(), args.begin(), args.end());
        std::string why = refused(with_route);
        BOOST_TEST(contains(why, mentions), "expected '" << mentions << "' in: " << why);
    }
}

BOOST_AUTO_TEST_CASE(a_bad_handler_timeout_in_the_file_names_its_line) {
    write("route = /a=a\n\nhandler-timeout = /b=1\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, at_line(3)), why);
    BOOST_TEST(contains(why, "--handler-timeout: /b is not the path of any --route"), why);
}

BOOST_AUTO_TEST_CASE(shutdown_delay) {
    BOOST_TEST(parsed({}).shutdown_delay.count() == 0);
    BOOST_TEST(parsed({"--shutdown-delay", "2.5"}).shutdown_delay.count() == 2500);
    BOOST_TEST(contains(refused({"--shutdown-delay", "-1"}), "--shutdown-delay: must be between 0 and 86400"));
    BOOST_TEST(contains(refused({"--shutdown-delay", "86401"}), "--shutdown-delay"));
    BOOST_TEST(contains(refused({"--shutdown-delay", "soon"}), "shutdown-delay"));
    write("shutdown-delay = 5\n");
    BOOST_TEST(parsed({"--config", file.string()}).shutdown_delay.count() == 5000);
    write("\nshutdown-delay = -5\n");
    BOOST_TEST(contains(refused({"--config", file.string()}), at_line(2) + " --shutdown-delay"));
}

// The workers scale with the CPUs; with none, the single process's threads do.
BOOST_AUTO_TEST_CASE(threads_default_with_and_without_workers) {
    BOOST_TEST(parsed({"--workers", "3"}).threads == 2u);
    BOOST_TEST(parsed({"--workers", "0"}).threads == std::max(2u, replug::available_cpus()));
    BOOST_TEST(parsed({"--workers", "0", "--threads", "7"}).threads == 7u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(parse_route_accepts_module_and_symbol) {
    auto plain = parse_route("/hello=hello");
    BOOST_TEST_REQUIRE(plain.ok(), replug::testing::reason_of(plain));
    BOOST_TEST(plain->pattern == "/hello");
    BOOST_TEST(plain->module == "hello");
    BOOST_TEST(plain->symbol == "serve");

    auto with_symbol = parse_route("/echo/*=tools/echo:status_2");
    BOOST_TEST_REQUIRE(with_symbol.ok(), replug::testing::reason_of(with_symbol));
    BOOST_TEST(with_symbol->pattern == "/echo/*");
    BOOST_TEST(with_symbol->module == "tools/echo");
    BOOST_TEST(with_symbol->symbol == "status_2");

    auto catch_all = parse_route("/*=site");
    BOOST_TEST_REQUIRE(catch_all.ok(), replug::testing::reason_of(catch_all));
    BOOST_TEST(catch_all->pattern == "/*");

    auto root = parse_route("/=index");
    BOOST_TEST_REQUIRE(root.ok(), replug::testing::reason_of(root));
    BOOST_TEST(root->pattern == "/");
}

BOOST_AUTO_TEST_CASE(parse_route_refuses_with_a_reason) {
    struct bad_case {
        std::string text;
        std::string reason_mentions;
    };
    for (const auto& [text, mentions] : std::vector<bad_case>{
             {"", "expected PATH=MODULE"},
             {"/hello", "expected PATH=MODULE"},
             {"hello=hello", "PATH must"},
             {"=hello", "PATH must"},
             {"/a*=m", "PATH must"},
             {"/a/*/b=m", "PATH must"},
             {"/a/**=m", "PATH must"},
             {"/*/*=m", "PATH must"},
             {"/a?x=m", "PATH must"},
             {"/a#x=m", "PATH must"},
             {"/a b=m", "PATH must"},
             {"/a\tb=m", "PATH must"},
             {"/x=", "MODULE must"},
             {"/x=../m", "MODULE must"},
             {"/x=/abs/m", "MODULE must"},
             {"/x=a//b", "MODULE must"},
             {"/x=.hidden", "MODULE must"},
             {"/x=a b", "MODULE must"},
             {"/x=m:", "SYMBOL must"},
             {"/x=m:1st", "SYMBOL must"},
             {"/x=m:a-b", "SYMBOL must"},
             {"/x=m:a:b", "SYMBOL must"},
             {"/x=m:a.b", "SYMBOL must"},
         }) {
        auto spec = parse_route(text);
        BOOST_TEST_REQUIRE(!spec.ok(), "'" << text << "' was accepted");
        BOOST_TEST(spec.kind() == replug::failure_kind::bad_input);
        BOOST_TEST(spec.reason().find("bad route '" + text + "'") != std::string::npos, spec.reason());
        BOOST_TEST(spec.reason().find(mentions) != std::string::npos,
                   "'" << text << "': expected '" << mentions << "' in: " << spec.reason());
    }
}

BOOST_FIXTURE_TEST_SUITE(route_settings, config_fixture)

BOOST_AUTO_TEST_CASE(settings_reach_their_route_with_any_value) {
    auto config = parsed({"--route", "/a=a", "--route", "/a/*=b", "--route", "/c:d=c", "--route-setting",
                          "/a:title=My guests", "--route-setting", "/a/*:db=host=x port=5:6", "--route-setting",
                          "/c:d:k=v", "--route-setting", "/a:empty="});
    BOOST_TEST_REQUIRE(config.routes.size() == 3u);
    BOOST_TEST(config.routes[0].settings.at("title") == "My guests");
    BOOST_TEST(config.routes[0].settings.at("empty") == "");
    BOOST_TEST(config.routes[0].settings.size() == 2u);
    BOOST_TEST(config.routes[1].settings.at("db") == "host=x port=5:6");
    BOOST_TEST(config.routes[2].settings.at("k") == "v");  // the longest pattern that fits
}

BOOST_AUTO_TEST_CASE(settings_in_the_file_name_their_line) {
    write("route = /a=a\nroute-setting = /a:title=two words\nroute-setting = /nope:k=v\n");
    std::string why = refused({"--config", file.string()});
    BOOST_TEST(contains(why, file.string() + ":3: --route-setting: bad route setting '/nope:k=v': no route /nope"), why);
    write("route = /a=a\nroute-setting = /a:title=Hello\n");
    auto config = parsed({"--config", file.string()});
    BOOST_TEST(config.routes.at(0).settings.at("title") == "Hello");
}

BOOST_AUTO_TEST_SUITE_END()
