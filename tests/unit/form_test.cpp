// application/x-www-form-urlencoded decoding: what parse_qsl does with
// keep_blank_values=True, except that a malformed escape is an error.
#define BOOST_TEST_MODULE form
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "form.hpp"

using replug::form_field;

namespace {

std::vector<form_field> fields_of(std::string_view text) {
    std::vector<form_field> fields;
    auto added = replug::parse_form(text, fields);
    BOOST_TEST_REQUIRE(added.ok(), (added.ok() ? "" : added.reason()));
    BOOST_TEST(*added == fields.size());
    return fields;
}

std::string reason_of(std::string_view text) {
    std::vector<form_field> fields;
    auto added = replug::parse_form(text, fields);
    BOOST_TEST_REQUIRE(!added.ok());
    BOOST_TEST((added.kind() == replug::failure_kind::bad_input));
    return added.reason();
}

}  // namespace

BOOST_AUTO_TEST_CASE(fields_in_order_with_repeats) {
    auto fields = fields_of("a=1&b=2&a=3");
    BOOST_TEST_REQUIRE(fields.size() == 3u);
    BOOST_TEST((fields[0] == form_field{"a", "1"}));
    BOOST_TEST((fields[1] == form_field{"b", "2"}));
    BOOST_TEST((fields[2] == form_field{"a", "3"}));
}

BOOST_AUTO_TEST_CASE(plus_and_escapes_decode_in_names_and_values) {
    auto fields = fields_of("first+name=J%C3%BCrgen+M%c3%bcller&%26=%3D%25&x=a%2Bb");
    BOOST_TEST_REQUIRE(fields.size() == 3u);
    BOOST_TEST((fields[0] == form_field{"first name", "J\xc3\xbcrgen M\xc3\xbcller"}));
    BOOST_TEST((fields[1] == form_field{"&", "=%"}));
    BOOST_TEST((fields[2] == form_field{"x", "a+b"}));
}

BOOST_AUTO_TEST_CASE(blank_values_and_bare_names_are_kept_empty_fields_skipped) {
    auto fields = fields_of("&a=&&b&c==d&");
    BOOST_TEST_REQUIRE(fields.size() == 3u);
    BOOST_TEST((fields[0] == form_field{"a", ""}));
    BOOST_TEST((fields[1] == form_field{"b", ""}));
    BOOST_TEST((fields[2] == form_field{"c", "=d"}));  // only the first '=' splits
    BOOST_TEST(fields_of("").empty());
    BOOST_TEST(fields_of("&&&").empty());
    auto empty_name = fields_of("=v");
    BOOST_TEST_REQUIRE(empty_name.size() == 1u);
    BOOST_TEST((empty_name[0] == form_field{"", "v"}));
}

BOOST_AUTO_TEST_CASE(any_byte_survives_including_nul_and_invalid_utf8) {
    auto fields = fields_of("n=%00%ff%FE\x01;x");
    BOOST_TEST_REQUIRE(fields.size() == 1u);  // ';' is not a separator (Python 3.9.2 and later agree)
    BOOST_TEST((fields[0].value == std::string("\0\xff\xfe\x01;x", 6)));
}

BOOST_AUTO_TEST_CASE(malformed_escapes_are_errors_naming_the_field) {
    BOOST_TEST(reason_of("a=%4") .find("field 1 value") != std::string::npos);
    BOOST_TEST(reason_of("a=1&b=%zz").find("field 2 value: malformed percent-escape at byte 0") != std::string::npos);
    BOOST_TEST(reason_of("a=1&&%g0=1").find("field 3 name") != std::string::npos);
    BOOST_TEST(reason_of("a=%").find("malformed percent-escape") != std::string::npos);
    BOOST_TEST(reason_of("a=%%41").find("malformed") != std::string::npos);
    BOOST_TEST(reason_of("%").find("field 1 name") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(decode_component_alone) {
    BOOST_TEST(*replug::decode_form_component("a%20b+c") == "a b c");
    BOOST_TEST(!replug::decode_form_component("50%").ok());
    BOOST_TEST(!replug::decode_form_component("%0").ok());
}

BOOST_AUTO_TEST_CASE(form_media_type) {
    BOOST_TEST(replug::is_form_urlencoded("application/x-www-form-urlencoded"));
    BOOST_TEST(replug::is_form_urlencoded("Application/X-WWW-Form-URLEncoded; charset=UTF-8"));
    BOOST_TEST(replug::is_form_urlencoded(" application/x-www-form-urlencoded ;"));
    BOOST_TEST(!replug::is_form_urlencoded("application/x-www-form-urlencodedx"));
    BOOST_TEST(!replug::is_form_urlencoded("multipart/form-data; boundary=x"));
    BOOST_TEST(!replug::is_form_urlencoded(""));
}

BOOST_AUTO_TEST_CASE(a_large_form_parses_in_linear_time) {
    std::string text;
    for (int i = 0; i < 200000; ++i) text += "k%41=v+%42&";
    auto fields = fields_of(text);
    BOOST_TEST(fields.size() == 200000u);
    BOOST_TEST((fields.back() == form_field{"kA", "v B"}));
}
