// The small pieces the admin endpoints are built from: token comparison,
// query decoding, and the JSON writer.
#define BOOST_TEST_MODULE admin_helpers
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "admin.hpp"
#include "json.hpp"

using replug::constant_time_equal;
using replug::json_writer;
using replug::query_value;
using replug::url_decode;

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_whole_strings) {
    const std::string token = "s3cret-token-0123456789";
    BOOST_TEST(constant_time_equal(token, token));
    BOOST_TEST(constant_time_equal(std::string(token), token));
    BOOST_TEST(constant_time_equal("", ""));
    BOOST_TEST(!constant_time_equal("", token));
    BOOST_TEST(!constant_time_equal(token, ""));
    BOOST_TEST(!constant_time_equal("X" + token.substr(1), token));                  // first byte
    BOOST_TEST(!constant_time_equal(token.substr(0, token.size() - 1) + "X", token));  // last byte
    BOOST_TEST(!constant_time_equal(token.substr(0, token.size() - 1), token));      // a prefix
    BOOST_TEST(!constant_time_equal(token + "x", token));                             // longer
    BOOST_TEST(!constant_time_equal(token + '\0', token));
    BOOST_TEST(!constant_time_equal(std::string(token.size(), '\0'), token));
    BOOST_TEST(!constant_time_equal("abc", "ABC"));
}

BOOST_AUTO_TEST_CASE(url_decode_decodes_percent_and_plus) {
    BOOST_TEST(url_decode("") == "");
    BOOST_TEST(url_decode("plain") == "plain");
    BOOST_TEST(url_decode("a+b") == "a b");
    BOOST_TEST(url_decode("%2Fpluggable%2f*") == "/pluggable/*");
    BOOST_TEST(url_decode("%41") == "A");
    BOOST_TEST(url_decode("x%41") == "xA");
    BOOST_TEST(url_decode("%2B") == "+");
    BOOST_TEST(url_decode("%25") == "%");
    BOOST_TEST(url_decode("%2541") == "%41");  // decoded once only
    BOOST_TEST(url_decode("%00") == std::string(1, '\0'));
    BOOST_TEST(url_decode("%c3%A9") == "\xc3\xa9");
    // Malformed escapes stay as they are.
    BOOST_TEST(url_decode("%") == "%");
    BOOST_TEST(url_decode("%4") == "%4");
    BOOST_TEST(url_decode("a%4") == "a%4");
    BOOST_TEST(url_decode("%zz") == "%zz");
    BOOST_TEST(url_decode("%4g") == "%4g");
    BOOST_TEST(url_decode("100%") == "100%");
}

BOOST_AUTO_TEST_CASE(query_value_finds_a_decoded_parameter) {
    BOOST_TEST(query_value("route=%2Fpluggable", "route") == "/pluggable");
    BOOST_TEST(query_value("a=1&route=/x&b=2", "route") == "/x");
    BOOST_TEST(query_value("a=1&b=2", "b") == "2");
    BOOST_TEST(query_value("a=1&b=2", "route") == "");
    BOOST_TEST(query_value("", "route") == "");
    BOOST_TEST(query_value("route", "route") == "");
    BOOST_TEST(query_value("route=", "route") == "");
    BOOST_TEST(query_value("routes=/no&route=/yes", "route") == "/yes");  // no prefix match
    BOOST_TEST(query_value("xroute=/no&route=/yes", "route") == "/yes");
    BOOST_TEST(query_value("route=/first&route=/second", "route") == "/first");
    BOOST_TEST(query_value("ro%75te=/encoded-name", "route") == "/encoded-name");
    BOOST_TEST(query_value("route=/a=b", "route") == "/a=b");
    BOOST_TEST(query_value("route=%2Fa%26b&c=d", "route") == "/a&b");
    BOOST_TEST(query_value("&&route=/x&", "route") == "/x");
    BOOST_TEST(query_value("q=a+b", "q") == "a b");
}

BOOST_AUTO_TEST_CASE(json_strings_are_escaped) {
    json_writer json;
    std::string text = "quote\" backslash\\ slash/ nl\n cr\r tab\t bell\x07 nul";
    text += '\0';
    text += " esc\x1b del\x7f \xc3\xa9";
    json.value(text);
    BOOST_TEST(json.text() ==
               R"("quote\" backslash\\ slash/ nl\n cr\r tab\t bell\u0007 nul\u0000 esc\u001b del\u007f )"
               "\xc3\xa9\"");
}

BOOST_AUTO_TEST_CASE(json_keys_are_escaped_too) {
    json_writer json;
    json.begin_object().field("a\"b", "c\\d").end_object();
    BOOST_TEST(json.text() == R"({"a\"b":"c\\d"})");
}

BOOST_AUTO_TEST_CASE(json_commas_in_nested_objects_and_arrays) {
    json_writer json;
    json.begin_object()
        .field("name", "replugd")
        .key("routes")
        .begin_array()
        .begin_object()
        .field("route", "/p")
        .key("old")
        .null()
        .key("new")
        .begin_object()
        .field("version", "2")
        .field("generation", std::uint64_t{3})
        .end_object()
        .key("draining")
        .begin_array()
        .end_array()
        .end_object()
        .begin_object()
        .end_object()
        .value(1)
        .begin_array()
        .value(true)
        .value(false)
        .begin_array()
        .end_array()
        .end_array()
        .end_array()
        .field("empty", "")
        .key("last")
        .begin_object()
        .end_object()
        .end_object();
    BOOST_TEST(json.text() ==
               R"({"name":"replugd","routes":[{"route":"/p","old":null,"new":{"version":"2","generation":3},)"
               R"("draining":[]},{},1,[true,false,[]]],"empty":"","last":{}})");
}

BOOST_AUTO_TEST_CASE(json_numbers) {
    json_writer json;
    json.begin_array()
        .value(std::int64_t{-42})
        .value(std::numeric_limits<std::uint64_t>::max())
        .value(0)
        .value(2.25)
        .value(std::numeric_limits<double>::infinity())
        .value(std::numeric_limits<double>::quiet_NaN())
        .end_array();
    BOOST_TEST(json.text() == "[-42,18446744073709551615,0,2.250,null,null]");
}

BOOST_AUTO_TEST_CASE(json_times) {
    using std::chrono::system_clock;
    json_writer json;
    json.begin_array()
        .value(system_clock::time_point{})
        .value(system_clock::time_point{} + std::chrono::seconds(1'700'000'000))
        .end_array();
    BOOST_TEST(json.text() == R"([null,"2023-11-14T22:13:20Z"])");
}
