// Request path -> route: an exact PATH, or a prefix "P/*" that takes "P" and
// everything under "P/". Exact beats prefix; the longest prefix wins.
#define BOOST_TEST_MODULE router
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "router.hpp"
#include "test_support.hpp"

using replug::parse_route;
using replug::route_spec;
using replug::router;

namespace {

// The pattern PATH is routed by, or "" when none takes it.
std::string routed(const std::vector<std::string>& patterns, std::string_view path) {
    auto index = router(patterns).match(path);
    return index ? patterns.at(*index) : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(exact_path_matches_only_itself) {
    std::vector<std::string> patterns{"/hello"};
    BOOST_TEST(routed(patterns, "/hello") == "/hello");
    BOOST_TEST(routed(patterns, "/hello/") == "");
    BOOST_TEST(routed(patterns, "/hello/x") == "");
    BOOST_TEST(routed(patterns, "/hell") == "");
    BOOST_TEST(routed(patterns, "/helloo") == "");
    BOOST_TEST(routed(patterns, "/") == "");
}

BOOST_AUTO_TEST_CASE(prefix_takes_itself_and_everything_below_but_not_siblings) {
    std::vector<std::string> patterns{"/p/*"};
    BOOST_TEST(routed(patterns, "/p") == "/p/*");
    BOOST_TEST(routed(patterns, "/p/") == "/p/*");
    BOOST_TEST(routed(patterns, "/p/x") == "/p/*");
    BOOST_TEST(routed(patterns, "/p/x/y") == "/p/*");
    BOOST_TEST(routed(patterns, "/px") == "");
    BOOST_TEST(routed(patterns, "/px/y") == "");
    BOOST_TEST(routed(patterns, "/") == "");
    BOOST_TEST(routed(patterns, "/q/p") == "");
}

BOOST_AUTO_TEST_CASE(exact_beats_prefix_in_any_order) {
    for (const auto& patterns : {std::vector<std::string>{"/a/*", "/a/b"}, std::vector<std::string>{"/a/b", "/a/*"}}) {
        BOOST_TEST(routed(patterns, "/a/b") == "/a/b");
        BOOST_TEST(routed(patterns, "/a/b/c") == "/a/*");
        BOOST_TEST(routed(patterns, "/a/c") == "/a/*");
        BOOST_TEST(routed(patterns, "/a") == "/a/*");
    }
    std::vector<std::string> same_path{"/a/*", "/a"};  // exact "/a" beats the prefix's "/a"
    BOOST_TEST(routed(same_path, "/a") == "/a");
    BOOST_TEST(routed(same_path, "/a/x") == "/a/*");
}

BOOST_AUTO_TEST_CASE(longest_prefix_wins_in_any_order) {
    for (const auto& patterns : {std::vector<std::string>{"/a/*", "/a/b/*", "/a/b/c/*"},
                                 std::vector<std::string>{"/a/b/c/*", "/a/b/*", "/a/*"},
                                 std::vector<std::string>{"/a/b/*", "/a/b/c/*", "/a/*"}}) {
        BOOST_TEST(routed(patterns, "/a/b/c/d") == "/a/b/c/*");
        BOOST_TEST(routed(patterns, "/a/b/c") == "/a/b/c/*");
        BOOST_TEST(routed(patterns, "/a/b/cd") == "/a/b/*");
        BOOST_TEST(routed(patterns, "/a/b") == "/a/b/*");
        BOOST_TEST(routed(patterns, "/a/bc") == "/a/*");
        BOOST_TEST(routed(patterns, "/a") == "/a/*");
        BOOST_TEST(routed(patterns, "/ab") == "");
    }
}

BOOST_AUTO_TEST_CASE(catch_all_takes_what_nothing_else_does) {
    std::vector<std::string> patterns{"/*", "/p/*", "/hello"};
    BOOST_TEST(routed(patterns, "/") == "/*");
    BOOST_TEST(routed(patterns, "/anything") == "/*");
    BOOST_TEST(routed(patterns, "/px") == "/*");
    BOOST_TEST(routed(patterns, "/hello/x") == "/*");
    BOOST_TEST(routed(patterns, "/p") == "/p/*");
    BOOST_TEST(routed(patterns, "/p/x/y") == "/p/*");
    BOOST_TEST(routed(patterns, "/hello") == "/hello");
}

BOOST_AUTO_TEST_CASE(an_empty_table_routes_nothing) {
    BOOST_TEST(!router().match("/").has_value());
    BOOST_TEST(!router(std::vector<std::string>{}).match("/x").has_value());
}

BOOST_AUTO_TEST_CASE(match_answers_the_index_into_the_patterns) {
    router paths(std::vector<std::string>{"/a", "/b/*", "/c"});
    BOOST_TEST(paths.match("/a").value() == 0u);
    BOOST_TEST(paths.match("/b/x").value() == 1u);
    BOOST_TEST(paths.match("/c").value() == 2u);
}

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
