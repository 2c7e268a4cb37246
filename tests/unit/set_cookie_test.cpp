// res.cookie's Set-Cookie header: what is sent, and every refusal, which
// must name its reason and send nothing.
#define BOOST_TEST_MODULE set_cookie
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "set_cookie.hpp"

using replug::cookie_options;
using replug::set_cookie_header;

namespace {

std::string refused(std::string_view name, std::string_view value, const cookie_options& options = {}) {
    try {
        auto header = set_cookie_header(name, value, options);
        BOOST_ERROR("accepted: " << header);
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    return {};
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(a_plain_cookie_has_no_attributes) {
    BOOST_TEST(set_cookie_header("session", "abc123", {}) == "session=abc123");
    BOOST_TEST(set_cookie_header("empty", "", {}) == "empty=");
}

BOOST_AUTO_TEST_CASE(every_attribute_in_order) {
    cookie_options options;
    options.max_age = 3600;
    options.expires = "Wed, 21 Oct 2026 07:28:00 GMT";
    options.path = "/guestbook";
    options.domain = "example.org";
    options.secure = true;
    options.http_only = true;
    options.same_site = "lax";
    BOOST_TEST(set_cookie_header("id", "a1", options) ==
               "id=a1; Max-Age=3600; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/guestbook; "
               "Domain=example.org; Secure; HttpOnly; SameSite=Lax");
}

BOOST_AUTO_TEST_CASE(max_age_zero_deletes_and_negative_is_left_out) {
    cookie_options options;
    options.max_age = 0;
    BOOST_TEST(set_cookie_header("id", "", options) == "id=; Max-Age=0");
    options.max_age = -5;
    BOOST_TEST(set_cookie_header("id", "", options) == "id=");
}

BOOST_AUTO_TEST_CASE(every_cookie_octet_passes_and_a_quoted_value_too) {
    std::string octets;
    for (int c = 0x21; c <= 0x7e; ++c)
        if (c != '"' && c != ',' && c != ';' && c != '\\') octets += static_cast<char>(c);
    BOOST_TEST(set_cookie_header("all", octets, {}) == "all=" + octets);
    BOOST_TEST(set_cookie_header("q", "\"abc\"", {}) == "q=\"abc\"");
}

BOOST_AUTO_TEST_CASE(names_must_be_tokens) {
    BOOST_TEST(contains(refused("", "v"), "the name is empty"));
    for (const std::string& name : std::vector<std::string>{"a b", "a=b", "a;b", "a,b", "a\"b", "a(b", "a/b", "a\tb", "a\rb", "a\nb",
                             std::string("a\0b", 3), "caf\xc3\xa9"}) {
        auto why = refused(name, "v");
        BOOST_TEST(contains(why, "the name must be a token"), why);
    }
}

BOOST_AUTO_TEST_CASE(values_that_would_break_the_header_are_refused) {
    for (const std::string& value : std::vector<std::string>{"a b", "a;b", "a,b", "a\\b", "a\"b", "\"", "a\r\nSet-Cookie: evil=1", "a\nb",
                              std::string("a\0b", 3), "\x7f", "caf\xc3\xa9", "\"a b\""}) {
        auto why = refused("n", value);
        BOOST_TEST(contains(why, "res.cookie(\"n\"): the value has a byte a cookie cannot carry"), why);
    }
}

BOOST_AUTO_TEST_CASE(attributes_that_would_break_the_header_are_refused) {
    cookie_options options;
    options.path = "/a; Domain=evil.example";
    BOOST_TEST(contains(refused("n", "v", options), "Path has ';'"));
    options = {};
    options.path = "/a\r\nX: y";
    BOOST_TEST(contains(refused("n", "v", options), "Path has ';', a control"));
    options = {};
    options.expires = "Wed;";
    BOOST_TEST(contains(refused("n", "v", options), "Expires has ';'"));
    options = {};
    options.domain = "example.org; Secure";
    BOOST_TEST(contains(refused("n", "v", options), "Domain must be a host name"));
}

BOOST_AUTO_TEST_CASE(same_site_is_one_of_three_and_none_needs_secure) {
    cookie_options options;
    options.same_site = "Loose";
    BOOST_TEST(contains(refused("n", "v", options), "SameSite must be Strict, Lax or None"));
    options.same_site = "None";
    BOOST_TEST(contains(refused("n", "v", options), "SameSite=None needs Secure"));
    options.secure = true;
    BOOST_TEST(set_cookie_header("n", "v", options) == "n=v; Secure; SameSite=None");
    options.same_site = "STRICT";
    BOOST_TEST(set_cookie_header("n", "v", options) == "n=v; Secure; SameSite=Strict");
}

BOOST_AUTO_TEST_CASE(prefixed_names_get_what_browsers_require) {
    BOOST_TEST(contains(refused("__Secure-id", "v"), "needs Secure"));
    cookie_options options;
    options.secure = true;
    BOOST_TEST(set_cookie_header("__Secure-id", "v", options) == "__Secure-id=v; Secure");
    BOOST_TEST(contains(refused("__Host-id", "v", options), "a __Host- cookie needs Secure, Path=/ and no Domain"));
    options.path = "/";
    BOOST_TEST(set_cookie_header("__Host-id", "v", options) == "__Host-id=v; Path=/; Secure");
    options.domain = "example.org";
    BOOST_TEST(contains(refused("__Host-id", "v", options), "no Domain"));
}

BOOST_AUTO_TEST_CASE(cookies_browsers_would_drop_are_refused) {
    BOOST_TEST(set_cookie_header("n", std::string(4095, 'x'), {}).size() == 4097u);
    BOOST_TEST(contains(refused("n", std::string(4096, 'x')), "pass 4096 bytes"));
}

BOOST_AUTO_TEST_CASE(a_long_hostile_name_is_cut_in_the_reason) {
    auto why = refused(std::string(1000, ';'), "v");
    BOOST_TEST(why.size() < 300u, why);
}
