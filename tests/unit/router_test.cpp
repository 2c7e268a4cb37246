// Request path -> route: an exact PATH, or a prefix "P/*" that takes "P" and
// everything under "P/". Exact beats prefix; the longest prefix wins.
#define BOOST_TEST_MODULE router
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "router.hpp"
#include "test_support.hpp"

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
