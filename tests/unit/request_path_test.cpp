// The path a request is routed by, from the CGI params each front server
// sends: nginx's whole SCRIPT_NAME, lighttpd's SCRIPT_NAME + PATH_INFO split
// (or an empty SCRIPT_NAME and the whole PATH_INFO), then DOCUMENT_URI, then
// REQUEST_URI without its query.
#define BOOST_TEST_MODULE request_path
#include <boost/test/unit_test.hpp>

#include "fcgi_request.hpp"

using replug::request_path;

BOOST_AUTO_TEST_CASE(nginx_sends_the_whole_path_in_script_name) {
    BOOST_TEST(request_path("/echo/a/b", "", "/echo/a/b", "/echo/a/b?x=1&y=two") == "/echo/a/b");
}

BOOST_AUTO_TEST_CASE(lighttpd_splits_the_first_segment_from_the_rest) {
    BOOST_TEST(request_path("/echo", "/a/b", "/echo/a/b", "/echo/a/b?x=1") == "/echo/a/b");
    BOOST_TEST(request_path("/echo", "", "/echo", "/echo") == "/echo");
}

BOOST_AUTO_TEST_CASE(lighttpd_with_fix_root_scriptname_sends_it_all_in_path_info) {
    BOOST_TEST(request_path("", "/echo/a/b", "/echo/a/b", "/echo/a/b?x=1") == "/echo/a/b");
}

BOOST_AUTO_TEST_CASE(script_name_and_path_info_win_over_the_uris) {
    // An internal rewrite leaves DOCUMENT_URI and REQUEST_URI at what the
    // client asked for; SCRIPT_NAME + PATH_INFO is what the server routes.
    BOOST_TEST(request_path("/new", "", "/old", "/old?x=1") == "/new");
    BOOST_TEST(request_path("", "/new", "/old", "/old") == "/new");
}

BOOST_AUTO_TEST_CASE(without_script_name_or_path_info_document_uri_is_the_path) {
    BOOST_TEST(request_path("", "", "/echo/a", "/other?x=1") == "/echo/a");
}

BOOST_AUTO_TEST_CASE(then_request_uri_without_its_query) {
    BOOST_TEST(request_path("", "", "", "/echo/a?x=1&y=two") == "/echo/a");
    BOOST_TEST(request_path("", "", "", "/echo/a?") == "/echo/a");
    BOOST_TEST(request_path("", "", "", "/echo/a?x=?y") == "/echo/a");  // the first '?' starts the query
    BOOST_TEST(request_path("", "", "", "/echo/a") == "/echo/a");
}

BOOST_AUTO_TEST_CASE(nothing_given_is_an_empty_path) {
    BOOST_TEST(request_path("", "", "", "") == "");
    BOOST_TEST(request_path("", "", "", "?x=1") == "");
}

BOOST_AUTO_TEST_CASE(the_path_is_taken_as_sent) {
    // Judging it (relative, dot segments, length) is the router's
    // acceptable_path; nothing is decoded or normalized here.
    BOOST_TEST(request_path("relative", "", "", "") == "relative");
    BOOST_TEST(request_path("/a/../b", "", "", "") == "/a/../b");
    BOOST_TEST(request_path("/a%2Fb", "/%2e%2e", "", "") == "/a%2Fb/%2e%2e");
}
