// The request head check: which connections a worker may hand to libfcgi.
// Every hostile case here was found by the fuzzer (tests/fuzz) against the
// real libfcgi, where each one made it allocate ~2^31 bytes or leak.
#define BOOST_TEST_MODULE request_head
#include <boost/test/unit_test.hpp>

#include <fastcgi.h>

#include <string>
#include <utility>
#include <vector>

#include "request_head.hpp"

using replug::classify_request_head;
using replug::head_state;

namespace {

std::string record(unsigned type, unsigned id, const std::string& content, unsigned padding = 0) {
    std::string out;
    out += static_cast<char>(FCGI_VERSION_1);
    out += static_cast<char>(type);
    out += static_cast<char>(id >> 8);
    out += static_cast<char>(id & 0xff);
    out += static_cast<char>(content.size() >> 8);
    out += static_cast<char>(content.size() & 0xff);
    out += static_cast<char>(padding);
    out += '\0';
    return out + content + std::string(padding, '\0');
}

std::string begin(unsigned id = 1) { return record(FCGI_BEGIN_REQUEST, id, std::string("\0\1\0\0\0\0\0\0", 8)); }

std::string pair(const std::string& name, const std::string& value) {
    auto length = [](std::size_t n) {
        if (n < 128) return std::string(1, static_cast<char>(n));
        return std::string{static_cast<char>(0x80 | (n >> 24)), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                           static_cast<char>(n)};
    };
    return length(name.size()) + length(value.size()) + name + value;
}

std::string params(const std::string& content, unsigned id = 1) {
    return record(FCGI_PARAMS, id, content) + record(FCGI_PARAMS, id, "");
}

const std::string good = begin() + params(pair("SCRIPT_NAME", "/x") + pair("REQUEST_METHOD", "GET"));

head_state classify(const std::string& bytes, bool peer_closed = false) {
    return classify_request_head(bytes, false, peer_closed);
}

// A 4-byte name length of 0x7fffffff with a few bytes behind it.
std::string huge_pair() { return std::string("\xff\xff\xff\xff\x01", 5) + "AB"; }

}  // namespace

BOOST_AUTO_TEST_CASE(a_whole_sound_head_is_ready) {
    BOOST_TEST((classify(good) == head_state::ready));
    BOOST_TEST((classify(good + record(FCGI_STDIN, 1, "body")) == head_state::ready));
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_sound_head_waits_for_more) {
    for (std::size_t cut = 1; cut < good.size(); ++cut)
        BOOST_TEST((classify(good.substr(0, cut)) == head_state::incomplete), "cut at " << cut);
}

BOOST_AUTO_TEST_CASE(every_prefix_at_eof_goes_to_libfcgi_to_fail) {
    for (std::size_t cut = 1; cut < good.size(); ++cut)
        BOOST_TEST((classify(good.substr(0, cut), true) == head_state::ready), "cut at " << cut);
    BOOST_TEST((classify("", true) == head_state::ready));
}

BOOST_AUTO_TEST_CASE(a_name_value_length_past_the_params_is_rejected) {
    BOOST_TEST((classify(begin() + params(huge_pair())) == head_state::rejected));
    // Cut short by EOF, libfcgi would still allocate for the length it read.
    BOOST_TEST((classify(begin() + record(FCGI_PARAMS, 1, huge_pair()), true) == head_state::rejected));
    // Or when the next record is garbage and ends the params early.
    BOOST_TEST((classify(begin() + record(FCGI_PARAMS, 1, huge_pair()) + "garbage!") == head_state::rejected));
    // A value one byte longer than what carries it.
    BOOST_TEST((classify(begin() + params(std::string("\x01\x05", 2) + "Nabcd")) == head_state::rejected));
}

BOOST_AUTO_TEST_CASE(a_pair_split_across_records_is_fine) {
    std::string content = pair("HTTP_COOKIE", std::string(300, 'c'));
    std::string split = begin() + record(FCGI_PARAMS, 1, content.substr(0, 100)) +
                        record(FCGI_PARAMS, 1, content.substr(100)) + record(FCGI_PARAMS, 1, "");
    BOOST_TEST((classify(split) == head_state::ready));
}

BOOST_AUTO_TEST_CASE(begin_request_padding_is_not_skipped_as_libfcgi_does_not) {
    // libfcgi starts reading params right after BEGIN_REQUEST's 8-byte body,
    // so bytes hidden in its "padding" are records to it.
    std::string hidden = record(FCGI_PARAMS, 1, huge_pair());
    std::string padded = good.substr(0, 6) + static_cast<char>(hidden.size()) + good.substr(7, 9) + hidden;
    BOOST_TEST((classify(padded, true) == head_state::rejected));
}

BOOST_AUTO_TEST_CASE(management_records_are_rejected) {
    BOOST_TEST((classify(record(FCGI_GET_VALUES, 0, pair("FCGI_MAX_CONNS", ""))) == head_state::rejected));
    BOOST_TEST((classify(record(42, 0, "xx")) == head_state::rejected));
    BOOST_TEST((classify(begin() + record(FCGI_PARAMS, 0, "")) == head_state::rejected));
}

BOOST_AUTO_TEST_CASE(records_of_other_requests_are_skipped_as_libfcgi_skips_them) {
    std::string other = record(FCGI_STDIN, 7, "ignored");
    BOOST_TEST((classify(other + good) == head_state::ready));
    BOOST_TEST((classify(begin() + record(FCGI_PARAMS, 7, huge_pair()) + params(pair("A", "b"))) == head_state::ready));
}

BOOST_AUTO_TEST_CASE(not_fastcgi_goes_to_libfcgi_which_refuses_it) {
    BOOST_TEST((classify("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == head_state::ready));
}

BOOST_AUTO_TEST_CASE(a_head_larger_than_the_limit_is_rejected) {
    std::string big = begin() + record(FCGI_PARAMS, 1, std::string(60000, 'x'));
    BOOST_TEST((classify_request_head(big, true, false) == head_state::rejected));
}

BOOST_AUTO_TEST_CASE(a_short_begin_request_does_not_read_past_the_buffer) {
    // Found by the fuzzer: BEGIN_REQUEST's header with one byte of its body.
    BOOST_TEST((classify(std::string("\x01\x01\x00\x01\x00\x08\x00\x00\x00", 9)) == head_state::incomplete));
    BOOST_TEST((classify(std::string("\x01\x01\x00\x01\x00\x08\x00\x00\x00", 9), true) == head_state::ready));
}
