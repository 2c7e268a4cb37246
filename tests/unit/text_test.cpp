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

// UTF-8 as RFC 3629 defines it: what JSON answers and metric labels need.
BOOST_AUTO_TEST_CASE(utf8_sequences_that_are_valid) {
    using replug::utf8_sequence_length;
    BOOST_TEST(utf8_sequence_length("a") == 1u);
    BOOST_TEST(utf8_sequence_length("\xc3\xa9z") == 2u);          // é
    BOOST_TEST(utf8_sequence_length("\xe2\x82\xac") == 3u);       // €
    BOOST_TEST(utf8_sequence_length("\xf0\x9f\x98\x80") == 4u);   // U+1F600
    BOOST_TEST(utf8_sequence_length("\xf4\x8f\xbf\xbf") == 4u);   // U+10FFFF, the last
    BOOST_TEST(utf8_sequence_length("\xed\x9f\xbf") == 3u);       // U+D7FF, just below the surrogates
    BOOST_TEST(utf8_sequence_length("\xee\x80\x80") == 3u);       // U+E000, just above them
    BOOST_TEST(utf8_sequence_length(std::string_view("\0", 1)) == 1u);
}

BOOST_AUTO_TEST_CASE(utf8_sequences_that_are_not) {
    using replug::utf8_sequence_length;
    BOOST_TEST(utf8_sequence_length("") == 0u);
    BOOST_TEST(utf8_sequence_length("\xff") == 0u);
    BOOST_TEST(utf8_sequence_length("\xfe") == 0u);
    BOOST_TEST(utf8_sequence_length("\x80") == 0u);                // a stray continuation byte
    BOOST_TEST(utf8_sequence_length("\xc0\xaf") == 0u);            // overlong '/'
    BOOST_TEST(utf8_sequence_length("\xc1\xbf") == 0u);            // overlong
    BOOST_TEST(utf8_sequence_length("\xe0\x80\xaf") == 0u);        // overlong, three bytes
    BOOST_TEST(utf8_sequence_length("\xf0\x80\x80\xaf") == 0u);    // overlong, four bytes
    BOOST_TEST(utf8_sequence_length("\xed\xa0\x80") == 0u);        // U+D800, a surrogate
    BOOST_TEST(utf8_sequence_length("\xed\xbf\xbf") == 0u);        // U+DFFF
    BOOST_TEST(utf8_sequence_length("\xf4\x90\x80\x80") == 0u);    // above U+10FFFF
    BOOST_TEST(utf8_sequence_length("\xf5\x80\x80\x80") == 0u);
    BOOST_TEST(utf8_sequence_length("\xc3") == 0u);                // cut short
    BOOST_TEST(utf8_sequence_length("\xe2\x82") == 0u);
    BOOST_TEST(utf8_sequence_length("\xf0\x9f\x98") == 0u);
    BOOST_TEST(utf8_sequence_length("\xe2\x82z") == 0u);           // interrupted
}

BOOST_AUTO_TEST_CASE(valid_utf8_maps_each_stray_byte_to_its_own_character) {
    BOOST_TEST(replug::valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");  // valid: unchanged
    BOOST_TEST(replug::valid_utf8("\xff\xfe") == "\xc3\xbf\xc3\xbe");  // U+00FF U+00FE
    BOOST_TEST(replug::valid_utf8("a\xe2\x82z") == "a\xc3\xa2\xc2\x82z");  // a cut sequence byte by byte
    BOOST_TEST(replug::valid_utf8("\xed\xa0\x80") == "\xc3\xad\xc2\xa0\xc2\x80");
    BOOST_TEST(replug::valid_utf8("\xff") != replug::valid_utf8("\xfe"));
    BOOST_TEST(replug::valid_utf8("") == "");
}
