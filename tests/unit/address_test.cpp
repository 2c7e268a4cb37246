// Socket addresses as command lines give them: HOST:PORT split the same way
// for --listen, --socket and --url, and unix socket paths that must fit a
// sockaddr_un.
#define BOOST_TEST_MODULE address
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "address.hpp"
#include "test_support.hpp"  // prints a failure_kind

using replug::is_port_number;
using replug::split_host_port;

namespace {

// "host|port", "host|-" without a port, or "error: reason".
std::string split(std::string_view text) {
    auto result = split_host_port(text);
    if (!result) return "error: " + result.reason();
    return result->host + "|" + result->port.value_or("-");
}

}  // namespace

BOOST_AUTO_TEST_CASE(host_and_port_split_at_the_last_colon) {
    BOOST_TEST(split("127.0.0.1:9000") == "127.0.0.1|9000");
    BOOST_TEST(split("localhost:http") == "localhost|http");  // the port is the caller's to check
    BOOST_TEST(split(":9000") == "|9000");
    BOOST_TEST(split("host:") == "host|");
    BOOST_TEST(split("::1:9000") == "::1|9000");  // unbracketed IPv6: the last colon
    BOOST_TEST(split("nowhere") == "nowhere|-");
    BOOST_TEST(split("") == "|-");
}

BOOST_AUTO_TEST_CASE(ipv6_brackets_are_taken_off) {
    BOOST_TEST(split("[::1]:9000") == "::1|9000");
    BOOST_TEST(split("[fe80::1%eth0]:80") == "fe80::1%eth0|80");
    BOOST_TEST(split("[::]:") == "::|");
    BOOST_TEST(split("[::1]") == "::1|-");
    BOOST_TEST(split("[]:80") == "|80");
}

BOOST_AUTO_TEST_CASE(malformed_brackets_fail_with_a_reason) {
    BOOST_TEST(split("[::1") == "error: unterminated [IPV6] address");
    BOOST_TEST(split("[::1:9000") == "error: unterminated [IPV6] address");
    BOOST_TEST(split("[::1]9000") == "error: expected :PORT after the [IPV6] address");
    BOOST_TEST(split_host_port("[::1]x").kind() == replug::failure_kind::bad_input);
}

BOOST_AUTO_TEST_CASE(a_port_number_is_digits) {
    BOOST_TEST(is_port_number("9000"));
    BOOST_TEST(is_port_number("0"));
    BOOST_TEST(!is_port_number(""));
    BOOST_TEST(!is_port_number("http"));
    BOOST_TEST(!is_port_number("90 00"));
    BOOST_TEST(!is_port_number("-1"));
    BOOST_TEST(!is_port_number("9000]"));
    BOOST_TEST(is_port_number("65535"));
    BOOST_TEST(!is_port_number("65536"));  // getaddrinfo would wrap it
    BOOST_TEST(!is_port_number("99999"));
    BOOST_TEST(!is_port_number("000009000"));
}

BOOST_AUTO_TEST_CASE(unix_socket_address_fits_the_path_or_says_no) {
    auto address = replug::unix_socket_address("/run/replug/replugd.sock");
    BOOST_TEST_REQUIRE(address.has_value());
    BOOST_TEST(address->sun_family == AF_UNIX);
    BOOST_TEST(std::string(address->sun_path) == "/run/replug/replugd.sock");

    std::string longest(replug::max_unix_socket_path, 'x');
    BOOST_TEST(replug::max_unix_socket_path == sizeof(sockaddr_un::sun_path) - 1);
    auto full = replug::unix_socket_address(longest);
    BOOST_TEST_REQUIRE(full.has_value());
    BOOST_TEST(std::string(full->sun_path, sizeof full->sun_path - 1) == longest);
    BOOST_TEST(full->sun_path[sizeof full->sun_path - 1] == '\0');  // still terminated

    BOOST_TEST(!replug::unix_socket_address(longest + "x").has_value());
    BOOST_TEST(!replug::unix_socket_address("").has_value());
}

BOOST_AUTO_TEST_CASE(loopback_hosts_are_literal_loopback_addresses_or_localhost) {
    using replug::is_loopback_host;
    BOOST_TEST(is_loopback_host("localhost"));
    BOOST_TEST(is_loopback_host("LocalHost"));
    BOOST_TEST(is_loopback_host(""));
    BOOST_TEST(is_loopback_host("127.0.0.1"));
    BOOST_TEST(is_loopback_host("127.1.2.3"));
    BOOST_TEST(is_loopback_host("::1"));
    BOOST_TEST(is_loopback_host("::ffff:127.0.0.1"));
    BOOST_TEST(!is_loopback_host("128.0.0.1"));
    BOOST_TEST(!is_loopback_host("10.0.0.5"));
    BOOST_TEST(!is_loopback_host("::2"));
    BOOST_TEST(!is_loopback_host("::ffff:10.0.0.1"));
    BOOST_TEST(!is_loopback_host("localhost.example.com"));
    BOOST_TEST(!is_loopback_host("127.0.0.1.example.com"));
    BOOST_TEST(!is_loopback_host("example.com"));
}
