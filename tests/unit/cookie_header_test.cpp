// The Cookie header: ';'-separated pairs, blanks around them, quoted values;
// odd bytes are kept, never refused.
#define BOOST_TEST_MODULE cookie_header
#include <boost/test/unit_test.hpp>

#include <string>

#include "cookie_header.hpp"

using replug::cookie_pair;
using replug::parse_cookie_header;

BOOST_AUTO_TEST_CASE(pairs_in_order) {
    auto pairs = parse_cookie_header("session=abc123; theme=dark;lang=en");
    BOOST_TEST_REQUIRE(pairs.size() == 3u);
    BOOST_TEST((pairs[0] == cookie_pair{"session", "abc123"}));
    BOOST_TEST((pairs[1] == cookie_pair{"theme", "dark"}));
    BOOST_TEST((pairs[2] == cookie_pair{"lang", "en"}));
}

BOOST_AUTO_TEST_CASE(blanks_around_names_and_values_go_quotes_go) {
    auto pairs = parse_cookie_header(" \ta = 1 \t;  b=\"quoted value\" ; c=\"\"; d=\"half");
    BOOST_TEST_REQUIRE(pairs.size() == 4u);
    BOOST_TEST((pairs[0] == cookie_pair{"a", "1"}));
    BOOST_TEST((pairs[1] == cookie_pair{"b", "quoted value"}));
    BOOST_TEST((pairs[2] == cookie_pair{"c", ""}));
    BOOST_TEST((pairs[3] == cookie_pair{"d", "\"half"}));  // not a quoted value: kept as sent
}

BOOST_AUTO_TEST_CASE(values_keep_equals_signs_and_are_not_decoded) {
    auto pairs = parse_cookie_header("token=a=b==; enc=%41+%42");
    BOOST_TEST_REQUIRE(pairs.size() == 2u);
    BOOST_TEST((pairs[0] == cookie_pair{"token", "a=b=="}));
    BOOST_TEST((pairs[1] == cookie_pair{"enc", "%41+%42"}));
}

BOOST_AUTO_TEST_CASE(pairs_without_equals_or_name_are_skipped) {
    auto pairs = parse_cookie_header(";;flag; =orphan;  ; x=1;");
    BOOST_TEST_REQUIRE(pairs.size() == 1u);
    BOOST_TEST((pairs[0] == cookie_pair{"x", "1"}));
    BOOST_TEST(parse_cookie_header("").empty());
    BOOST_TEST(parse_cookie_header(";").empty());
    BOOST_TEST(parse_cookie_header("\"").empty());
}

BOOST_AUTO_TEST_CASE(repeated_names_are_kept_in_order) {
    auto pairs = parse_cookie_header("id=specific; id=general");
    BOOST_TEST_REQUIRE(pairs.size() == 2u);
    BOOST_TEST(pairs[0].value == "specific");
}

BOOST_AUTO_TEST_CASE(odd_bytes_pass_through) {
    const char raw[] = "a=\x01\xff\x7f; b\x80=\0z; c=\"\r\n\"";
    std::string header(raw, sizeof raw - 1);
    auto pairs = parse_cookie_header(header);
    BOOST_TEST_REQUIRE(pairs.size() == 3u);
    BOOST_TEST((pairs[0] == cookie_pair{"a", "\x01\xff\x7f"}));
    BOOST_TEST((pairs[1] == cookie_pair{"b\x80", std::string_view("\0z", 2)}));
    BOOST_TEST((pairs[2] == cookie_pair{"c", "\r\n"}));
}

BOOST_AUTO_TEST_CASE(every_byte_value_alone_and_in_pairs) {
    // Every single byte, and every pair of bytes around '=' and ';': no crash, views stay inside.
    for (int first = 0; first < 256; ++first)
        for (int second = 0; second < 256; ++second) {
            char text[5] = {static_cast<char>(first), '=', static_cast<char>(second), ';', static_cast<char>(first)};
            std::string_view header(text, sizeof text);
            for (const auto& pair : parse_cookie_header(header)) {
                bool inside = pair.name.data() >= header.data() &&
                              pair.value.data() + pair.value.size() <= header.data() + header.size();
                BOOST_TEST_REQUIRE(inside);
                BOOST_TEST_REQUIRE(!pair.name.empty());
            }
        }
}
