// The small text conversions: trimming, octal modes, and ASCII case folding
// (which must not follow the locale: header names and URL schemes are ASCII).
#define BOOST_TEST_MODULE text
#include <boost/test/unit_test.hpp>

#include <string>

#include "text.hpp"

using replug::ascii_lower;
using replug::ascii_upper;
using replug::equal_ignoring_case;

BOOST_AUTO_TEST_CASE(trim_drops_surrounding_blanks_only) {
    BOOST_TEST(replug::trim("  a b\t\r\n") == "a b");
    BOOST_TEST(replug::trim(" \t\r\n") == "");
    BOOST_TEST(replug::trim("\va\v") == "\va\v");  // not a blank here
}

BOOST_AUTO_TEST_CASE(octal_mode_shows_permission_bits) {
    BOOST_TEST(replug::octal_mode(0100644) == "0644");
    BOOST_TEST(replug::octal_mode(04755) == "4755");
}

BOOST_AUTO_TEST_CASE(ascii_case_of_one_byte) {
    BOOST_TEST(ascii_lower('A') == 'a');
    BOOST_TEST(ascii_lower('Z') == 'z');
    BOOST_TEST(ascii_lower('a') == 'a');
    BOOST_TEST(ascii_upper('a') == 'A');
    BOOST_TEST(ascii_upper('z') == 'Z');
    BOOST_TEST(ascii_upper('Z') == 'Z');
    // The neighbours of the letter ranges stay as they are.
    for (char c : std::string("@[`{-_0 9"))
        BOOST_TEST((ascii_lower(c) == c && ascii_upper(c) == c), "byte " << int(c));
    // So do bytes above ASCII: no locale's idea of a letter.
    BOOST_TEST(ascii_lower('\xC9') == '\xC9');
    BOOST_TEST(ascii_upper('\xE9') == '\xE9');
}

BOOST_AUTO_TEST_CASE(ascii_lower_of_a_text) {
    BOOST_TEST(ascii_lower("Content-Type") == "content-type");
    BOOST_TEST(ascii_lower("") == "");
    BOOST_TEST(ascii_lower("HTTPS://H\xC9/") == "https://h\xC9/");
}

BOOST_AUTO_TEST_CASE(equal_ignoring_case_compares_letters_without_case) {
    BOOST_TEST(equal_ignoring_case("Content-Length", "content-length"));
    BOOST_TEST(equal_ignoring_case("CONTENT-TYPE", "Content-Type"));
    BOOST_TEST(equal_ignoring_case("", ""));
    BOOST_TEST(!equal_ignoring_case("Content-Type", "Content-Typ"));
    BOOST_TEST(!equal_ignoring_case("Content-Type", "Content_Type"));
    BOOST_TEST(!equal_ignoring_case("@", "`"));  // 'A' - 1 and 'a' - 1 are not a pair
    BOOST_TEST(!equal_ignoring_case("[", "{"));  // nor are 'Z' + 1 and 'z' + 1
}
