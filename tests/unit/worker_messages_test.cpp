// The master's and the workers' messages: what is encoded decodes to the
// same thing, answers carry the question they answer, and malformed
// messages are refused rather than guessed at.
#define BOOST_TEST_MODULE worker_messages
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"
#include "worker_messages.hpp"

using namespace replug;

BOOST_AUTO_TEST_CASE(a_table_round_trips) {
    std::vector<table_route> table{
        {{"/a/*", "tools/a", "serve", std::chrono::milliseconds(1500), std::chrono::milliseconds(250)}, 3, 7, "/srv/m/a.so", 1234, 4096, std::string(64, 'f'), 0},
        {{"/b", "b", "status_2", std::chrono::milliseconds(30000), std::chrono::milliseconds(0),
          {{"db", "host=a port=5"}, {"empty", ""}, {"odd", "x\n=;:"}}},
         1023, 1, "/srv/with space\nand newline/b.so", 1, 1, "", 1700000000}};
    auto decoded = decode_load(encode_load(42, table));
    BOOST_TEST_REQUIRE(decoded.ok(), replug::testing::reason_of(decoded));
    BOOST_TEST(decoded->first == 42u);
    BOOST_TEST_REQUIRE(decoded->second.size() == 2u);
    const auto& b = decoded->second[1];
    BOOST_TEST((b.spec == table[1].spec));
    BOOST_TEST(b.spec.settings.at("odd") == "x\n=;:");
    BOOST_TEST(decoded->second[0].spec.settings.empty());
    BOOST_TEST(b.slot == 1023u);
    BOOST_TEST(b.file == "/srv/with space\nand newline/b.so");
    BOOST_TEST(b.unavailable_until == 1700000000);
    BOOST_TEST(decoded->second[0].sha256 == std::string(64, 'f'));
    // Each route's limits travel with it.
    BOOST_TEST(decoded->second[0].spec.handler_timeout.count() == 1500);
    BOOST_TEST(decoded->second[0].spec.slow_log.count() == 250);
    BOOST_TEST(b.spec.handler_timeout.count() == 30000);
}

BOOST_AUTO_TEST_CASE(a_retiring_notice_round_trips) {
    auto back = decode_retiring(encode_retiring({"timeout", "/spin"}));
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(back->reason == "timeout");
    BOOST_TEST(back->route == "/spin");
    BOOST_TEST(!decode_retiring({"retiring", "timeout"}).ok());
}

BOOST_AUTO_TEST_CASE(answers_name_their_transaction) {
    auto prepared = encode_prepared(9, {{"2", 0.25}, {"", 0}});
    BOOST_TEST(answers_transaction(prepared, 9));
    BOOST_TEST(!answers_transaction(prepared, 10));
    BOOST_TEST(answers_transaction({"committed", "10"}, 10));
    BOOST_TEST(!answers_transaction({"committed"}, 10));
    auto routes = decode_prepared(prepared, 2);
    BOOST_TEST_REQUIRE(routes.ok(), replug::testing::reason_of(routes));
    BOOST_TEST((*routes)[0].version == "2");
    BOOST_TEST((*routes)[0].load_milliseconds == 0.25);
    BOOST_TEST(!decode_prepared(prepared, 3).ok());  // a table of another size
}

BOOST_AUTO_TEST_CASE(admin_calls_and_answers_round_trip_with_their_id) {
    admin_call call{17, "POST", "/-/reload", "route=/x", "Bearer t", "127.0.0.1"};
    auto back = decode_admin_call(encode_admin_call(call));
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(back->id == 17u);
    BOOST_TEST(back->authorization == "Bearer t");
    admin_answer answer{17, 422, "{\"error\":\"x\"}\n", {{"Content-Type", "application/json"}}};
    auto got = decode_admin_answer(encode_admin_answer(answer));
    BOOST_TEST_REQUIRE(got.ok(), replug::testing::reason_of(got));
    BOOST_TEST(got->id == 17u);
    BOOST_TEST(got->status == 422);
    BOOST_TEST(got->headers.size() == 1u);
    BOOST_TEST(got->body == answer.body);
}

BOOST_AUTO_TEST_CASE(start_round_trip_carries_the_body_limit) {
    replug::worker_settings settings;
    settings.slot = 3;
    settings.threads = 8;
    settings.admin_prefix = "/admin/";
    settings.max_body = 123456789012ull;
    auto back = decode_start(encode_start(settings));
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(back->slot == 3u);
    BOOST_TEST(back->threads == 8u);
    BOOST_TEST(back->admin_prefix == "/admin/");
    BOOST_TEST(back->max_body == 123456789012ull);
    BOOST_TEST(!decode_start({"start", "0", "4", "info", "10", "/-/", "/-/"}).ok());  // no body limit
}

BOOST_AUTO_TEST_CASE(malformed_messages_are_refused) {
    BOOST_TEST(!decode_load({"load", "1", "2", "/a"}).ok());
    BOOST_TEST(!decode_load({"load", "x", "0"}).ok());
    // Settings: a count past the message, a key without its value, a key twice, a field left over.
    fields route{"/a", "a", "serve", "0", "1", "/a.so", "1", "1", "", "0", "30000", "0"};  // then the settings
    auto with = [&](std::vector<std::string> tail) {
        fields message{"load", "1", "1"};
        message.insert(message.end(), route.begin(), route.end());
        message.insert(message.end(), tail.begin(), tail.end());
        return message;
    };
    BOOST_TEST(decode_load(with({"1", "k", "v"})).ok());
    BOOST_TEST(!decode_load(with({"2", "k", "v"})).ok());
    BOOST_TEST(!decode_load(with({"1", "k"})).ok());
    BOOST_TEST(!decode_load(with({"2", "k", "v", "k", "w"})).ok());
    BOOST_TEST(!decode_load(with({"0", "extra"})).ok());
    BOOST_TEST(!decode_load(with({"99999999999999999999"})).ok());
    BOOST_TEST(!decode_start({"start", "0", "4", "9", "10", "/-/"}).ok());  // no such log level
    BOOST_TEST(!decode_admin_answer({"answer", "1", "99", ""}).ok());        // no such status
    BOOST_TEST(!decode_admin_answer({"answer", "1", "200", "", "Name"}).ok());  // a header without its value
    BOOST_TEST(!decode_admin_call({"admin", "1", "GET"}).ok());
    BOOST_TEST(!parse_decimal("").has_value());
    BOOST_TEST(!parse_decimal("-1").has_value());
    BOOST_TEST(!parse_decimal("99999999999999999999999").has_value());
}

// Admin off, probes on: the worker learns both prefixes apart.
BOOST_AUTO_TEST_CASE(start_carries_the_admin_and_probe_prefixes) {
    replug::worker_settings settings{3, 4, replug::log_level::debug, std::chrono::milliseconds(2500), "", "/-/"};
    auto back = decode_start(encode_start(settings));
    BOOST_TEST_REQUIRE(back.ok(), replug::testing::reason_of(back));
    BOOST_TEST(back->slot == 3u);
    BOOST_TEST(back->threads == 4u);
    BOOST_TEST(back->drain_timeout.count() == 2500);
    BOOST_TEST(back->admin_prefix == "");
    BOOST_TEST(back->probe_prefix == "/-/");
}
