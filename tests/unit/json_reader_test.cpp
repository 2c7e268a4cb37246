// The JSON reader replugctl reads admin answers with: every kind of value,
// the escapes, what the server's own writer produces, and a precise error
// for each way a text can be malformed.
#define BOOST_TEST_MODULE json_reader
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "json.hpp"
#include "ctl/json_reader.hpp"

using replug::json_value;
using replug::parse_json;

namespace {

json_value parsed(std::string_view text) {
    auto result = parse_json(text);
    BOOST_TEST_REQUIRE(result.ok(), "parse_json(" << text << "): " << (result ? "" : result.reason()));
    return *result;
}

std::string error_of(std::string_view text) {
    auto result = parse_json(text);
    BOOST_TEST_REQUIRE(!result.ok(), "parse_json(" << text << ") should fail");
    BOOST_TEST((result.kind() == replug::failure_kind::bad_input));
    return result.reason();
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_every_kind_of_value) {
    BOOST_TEST(parsed("null").is_null());
    BOOST_TEST(parsed("true").as_bool() == true);
    BOOST_TEST(parsed("false").as_bool() == false);
    BOOST_TEST(parsed("0").as_number() == 0.0);
    BOOST_TEST(parsed("-12").as_number() == -12.0);
    BOOST_TEST(parsed("0.31").as_number() == 0.31);
    BOOST_TEST(parsed("1.5e3").as_number() == 1500.0);
    BOOST_TEST(parsed("-2E-2").as_number() == -0.02);
    BOOST_TEST(parsed("9007199254740993").as_number() == 9007199254740992.0);  // nearest double
    BOOST_TEST(parsed("\"text\"").as_string() == "text");
    BOOST_TEST(parsed("\"\"").as_string() == "");
    BOOST_TEST(parsed("[]").as_array().empty());
    BOOST_TEST(parsed("{}").as_object().empty());
    BOOST_TEST(parsed(" \t\r\n[ 1 , \"a\" , null ]\n ").as_array().size() == 3u);
}

BOOST_AUTO_TEST_CASE(objects_keep_document_order_and_find_members) {
    json_value value = parsed(R"({"b": 1, "a": {"c": [true, false]}, "b": 2})");
    const auto& members = value.as_object();
    BOOST_TEST_REQUIRE(members.size() == 3u);
    BOOST_TEST(members[0].first == "b");
    BOOST_TEST(members[1].first == "a");
    BOOST_TEST(value["b"].as_number() == 1.0);  // the first of a repeated key
    BOOST_TEST(value["a"]["c"].as_array()[1].as_bool() == false);
    BOOST_TEST(value["missing"].is_null());
    BOOST_TEST(value["a"]["c"]["not an object"].is_null());
    BOOST_TEST(value["b"]["not an object"].is_null());
    BOOST_TEST(value["a"].string_or("-") == "-");
    BOOST_TEST(value["b"].number_or(-1) == 1.0);
    BOOST_TEST(value["a"].number_or(-1) == -1.0);
}

BOOST_AUTO_TEST_CASE(decodes_escapes_to_utf8) {
    BOOST_TEST(parsed(R"("\" \\ \/ \b \f \n \r \t")").as_string() == "\" \\ / \b \f \n \r \t");
    BOOST_TEST(parsed(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
    BOOST_TEST(parsed(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");  // a surrogate pair
    BOOST_TEST(parsed(R"("\u0000")").as_string() == std::string(1, '\0'));
    BOOST_TEST(parsed("\"caf\xC3\xA9\"").as_string() == "caf\xC3\xA9");  // raw UTF-8 as it is
}

BOOST_AUTO_TEST_CASE(reads_what_the_server_writes) {
    replug::json_writer writer;
    writer.begin_object()
        .field("route", "/pluggable")
        .field("generation", std::uint64_t{18446744073709551615u})
        .field("in_flight", std::int64_t{-3})
        .field("load_ms", 0.31)
        .field("ok", true)
        .field("message", std::string_view("tab\tquote\"nl\nctl\x01"))
        .field("at", std::chrono::system_clock::time_point{})
        .key("draining")
        .begin_array()
        .begin_object()
        .field("version", "1")
        .end_object()
        .end_array()
        .end_object();
    json_value value = parsed(writer.text());
    BOOST_TEST(value["route"].as_string() == "/pluggable");
    BOOST_TEST(value["generation"].as_number() == 18446744073709551615.0);
    BOOST_TEST(value["in_flight"].as_number() == -3.0);
    BOOST_TEST(value["load_ms"].as_number() == 0.31);
    BOOST_TEST(value["ok"].as_bool());
    BOOST_TEST(value["message"].as_string() == "tab\tquote\"nl\nctl\x01");
    BOOST_TEST(value["at"].is_null());
    BOOST_TEST(value["draining"].as_array()[0]["version"].as_string() == "1");
}

BOOST_AUTO_TEST_CASE(malformed_text_gets_the_offset_and_what_was_expected) {
    BOOST_TEST(error_of("") == "malformed JSON at offset 0: unexpected end of the text, expected a value");
    BOOST_TEST(error_of("   ") == "malformed JSON at offset 3: unexpected end of the text, expected a value");
    BOOST_TEST(error_of("{\"a\":1,}") == "malformed JSON at offset 7: expected a string key in an object");
    BOOST_TEST(error_of("[1,]") == "malformed JSON at offset 3: unexpected ']', expected a value");
    BOOST_TEST(error_of("[1 2]") == "malformed JSON at offset 3: expected ',' or ']' in an array");
    BOOST_TEST(error_of("{\"a\" 1}") == "malformed JSON at offset 5: expected ':' after an object key");
    BOOST_TEST(error_of("{\"a\":1 \"b\":2}") == "malformed JSON at offset 7: expected ',' or '}' in an object");
    BOOST_TEST(error_of("{a:1}") == "malformed JSON at offset 1: expected a string key in an object");
    BOOST_TEST(error_of("'a'") == "malformed JSON at offset 0: unexpected ''', expected a value");
    BOOST_TEST(error_of("nul") == "malformed JSON at offset 0: unexpected 'n', expected a value");
    BOOST_TEST(error_of("True") == "malformed JSON at offset 0: unexpected 'T', expected a value");
    BOOST_TEST(error_of("{} {}") == "malformed JSON at offset 3: expected the end of the text after the value");
    BOOST_TEST(error_of("1 // c") == "malformed JSON at offset 2: expected the end of the text after the value");
    BOOST_TEST(error_of("<html>") == "malformed JSON at offset 0: unexpected '<', expected a value");
    BOOST_TEST(error_of("\x01") == "malformed JSON at offset 0: unexpected byte 0x01, expected a value");
    BOOST_TEST(error_of("[") == "malformed JSON at offset 1: unexpected end of the text, expected a value");
    BOOST_TEST(error_of("{\"a\":") == "malformed JSON at offset 5: unexpected end of the text, expected a value");
}

BOOST_AUTO_TEST_CASE(malformed_numbers) {
    BOOST_TEST(error_of("01") == "malformed JSON at offset 1: leading zero in a number");
    BOOST_TEST(error_of("-") == "malformed JSON at offset 1: expected a digit in a number");
    BOOST_TEST(error_of("-a") == "malformed JSON at offset 1: expected a digit in a number");
    BOOST_TEST(error_of("1.") == "malformed JSON at offset 2: expected a digit after the decimal point");
    BOOST_TEST(error_of(".5") == "malformed JSON at offset 0: unexpected '.', expected a value");
    BOOST_TEST(error_of("+1") == "malformed JSON at offset 0: unexpected '+', expected a value");
    BOOST_TEST(error_of("1e") == "malformed JSON at offset 2: expected a digit in the exponent");
    BOOST_TEST(error_of("1e+") == "malformed JSON at offset 3: expected a digit in the exponent");
    BOOST_TEST(error_of("1e999") == "malformed JSON at offset 0: number out of range");
    BOOST_TEST(error_of("0x10") == "malformed JSON at offset 1: expected the end of the text after the value");
}

BOOST_AUTO_TEST_CASE(malformed_strings) {
    BOOST_TEST(error_of("\"abc") == "malformed JSON at offset 4: unterminated string");
    BOOST_TEST(error_of("\"abc\\") == "malformed JSON at offset 5: unterminated string");
    BOOST_TEST(error_of("\"a\nb\"") == "malformed JSON at offset 2: control character in a string (escape it)");
    BOOST_TEST(error_of(R"("\x41")") == "malformed JSON at offset 2: unknown escape \\'x'");
    BOOST_TEST(error_of(R"("\u12")") == "malformed JSON at offset 5: expected four hex digits after \\u");
    BOOST_TEST(error_of(R"("\u12G4")") == "malformed JSON at offset 5: expected four hex digits after \\u");
    BOOST_TEST(error_of(R"("\ude00")") == "malformed JSON at offset 7: lone low surrogate in a \\u escape");
    BOOST_TEST(error_of(R"("\ud83d")") == "malformed JSON at offset 7: high surrogate not followed by a \\u escape");
    BOOST_TEST(error_of(R"("\ud83d\u0041")") ==
               "malformed JSON at offset 13: high surrogate not followed by a low surrogate");
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_not_a_crash) {
    BOOST_TEST(parsed(std::string(256, '[') + std::string(256, ']')).is_array());
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    BOOST_TEST(error_of(deep) == "malformed JSON at offset 257: nested deeper than 256 levels");
    std::string deep_objects;
    for (int i = 0; i < 300; ++i) deep_objects += "{\"a\":";
    BOOST_TEST(error_of(deep_objects).find("nested deeper than 256 levels") != std::string::npos);
}
