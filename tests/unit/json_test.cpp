// The JSON writer's strings: escapes, and valid UTF-8 whatever bytes it is
// given (a module directory's name on Linux may hold any byte).
#define BOOST_TEST_MODULE json
#include <boost/test/unit_test.hpp>

#include <string>

#include "json.hpp"

namespace {

std::string json_string(std::string_view text) {
    replug::json_writer json;
    json.value(text);
    return json.text();
}

}  // namespace

BOOST_AUTO_TEST_CASE(escapes_quotes_backslashes_and_controls) {
    BOOST_TEST(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    BOOST_TEST(json_string("\n\r\t\x01\x7f") == "\"\\n\\r\\t\\u0001\\u007f\"");
}

BOOST_AUTO_TEST_CASE(valid_utf8_passes_as_it_is) {
    BOOST_TEST(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_become_u00xx) {
    BOOST_TEST(json_string("/srv/\xff\xfe/m.so") == "\"/srv/\\u00ff\\u00fe/m.so\"");
    BOOST_TEST(json_string("\xc0\xaf") == "\"\\u00c0\\u00af\"");              // overlong '/'
    BOOST_TEST(json_string("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");   // a surrogate, U+D800
    BOOST_TEST(json_string("\xf4\x90\x80\x80") == "\"\\u00f4\\u0090\\u0080\\u0080\"");  // above U+10FFFF
    BOOST_TEST(json_string("x\xe2\x82") == "\"x\\u00e2\\u0082\"");             // cut short at the end
    BOOST_TEST(json_string("\xe2\x82x") == "\"\\u00e2\\u0082x\"");             // cut short before ASCII
    BOOST_TEST(json_string("\x80") == "\"\\u0080\"");                           // a stray continuation byte
}

BOOST_AUTO_TEST_CASE(different_bytes_stay_different) {
    BOOST_TEST(json_string("\xff") != json_string("\xfe"));
}
