// The handler watchdog: real FastCGI requests (libfcgi reads them from a
// socket, as in the server) go through the real dispatcher to the slow test
// module, whose handler sleeps as long as the query says, on a route with a
// 100 ms handler timeout. A call that ends in time is answered by its
// handler; one still running when the watchdog looks is answered 504 by the
// watchdog; one that ends about when the watchdog looks is answered by
// exactly one of them, or, when the late handler had begun its answer as the
// watchdog looked, cut (nginx then reports an upstream error, as it would at
// its own read timeout). An answer is one complete FastCGI answer, never two
// headers and never a mix, and the route counts exactly the 504s and cuts.
#define BOOST_TEST_MODULE watchdog
#include <boost/test/unit_test.hpp>

#include <fastcgi.h>
#include <fcgiapp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dispatcher.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "server.hpp"
#include "test_support.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using replug::testing::name_value;
using replug::testing::record;
using replug::testing::records_of;
using replug::testing::temp_dir;

namespace {

constexpr int request_id = 3;

// GET /slow?QUERY with keep-alive, as nginx sends it.
std::string fastcgi_get(std::string_view query) {
    std::string begin{0, static_cast<char>(FCGI_RESPONDER), static_cast<char>(FCGI_KEEP_CONN), 0, 0, 0, 0, 0};
    std::string params = name_value("REQUEST_METHOD", "GET") + name_value("SCRIPT_NAME", "/slow") +
                         name_value("QUERY_STRING", query);
    return record(FCGI_BEGIN_REQUEST, request_id, begin) + record(FCGI_PARAMS, request_id, params) +
           record(FCGI_PARAMS, request_id, {}) + record(FCGI_STDIN, request_id, {});
}

// What the client got: the stdout stream and the records that ended it.
struct answer {
    std::string output;
    int empty_stdouts = 0;
    int end_requests = 0;
};

answer parse(std::string_view bytes) {
    answer got;
    for (const auto& each : records_of(bytes)) {
        BOOST_TEST(each.id == request_id);
        if (each.type == FCGI_STDOUT && each.content.empty()) ++got.empty_stdouts;
        if (each.type == FCGI_STDOUT) got.output.append(each.content);
        if (each.type == FCGI_END_REQUEST) ++got.end_requests;
    }
    return got;
}

struct watchdog_fixture {
    replug::logger log{replug::log_level::error};
    replug::loader modules{log};
    replug::registry routes{modules, log};
    temp_dir directory;

    watchdog_fixture() {
        FCGX_Init();
        replug::testing::replace_by_rename(directory / "slow.so",
                                           replug::testing::read_file(replug::testing::test_module("slow_v1")));
        replug::route_spec spec{"/slow", "slow", "serve", 100ms, 0ms};
        auto applied = routes.apply({spec}, {directory.path()});
        BOOST_TEST_REQUIRE(applied.ok(), replug::testing::reason_of(applied));
    }

    // One request for /slow?MILLIS through the dispatcher on a serving
    // thread of WATCH (thread 0), until its connection ends.
    answer serve(replug::watchdog& watch, int millis) {
        int ends[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
        replug::dispatcher requests(&routes, log);
        std::thread serving([&] {
            replug::watchdog::thread_scope watched(watch, 0);
            bool kept = replug::serve_once(ends[1], [&](replug::fcgi_request& call) { requests.serve(call); }, log);
            if (kept) ::close(ends[1]);  // kept for a next request: this one was answered by its handler
        });
        std::string request = fastcgi_get(std::to_string(millis));
        BOOST_REQUIRE(::write(ends[0], request.data(), request.size()) == static_cast<ssize_t>(request.size()));
        std::string bytes;
        char buffer[4096];
        // A kept connection never reaches EOF: stop at the END_REQUEST record.
        while (bytes.find(std::string{static_cast<char>(FCGI_VERSION_1), static_cast<char>(FCGI_END_REQUEST)}) ==
               std::string::npos) {
            ssize_t got = ::read(ends[0], buffer, sizeof buffer);
            if (got <= 0) break;
            bytes.append(buffer, static_cast<std::size_t>(got));
        }
        // As nginx does once it has its answer; libfcgi's close waits for it.
        ::shutdown(ends[0], SHUT_WR);
        serving.join();
        while (true) {  // what came after END_REQUEST: nothing may
            ssize_t got = ::read(ends[0], buffer, sizeof buffer);
            if (got <= 0) break;
            bytes.append(buffer, static_cast<std::size_t>(got));
        }
        ::close(ends[0]);
        return parse(bytes);
    }

    std::uint64_t timeouts() const { return routes.status().at(0).timeouts; }
};

const std::string timed_out =
    "Status: 504 Gateway Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Gateway Timeout: the handler did not answer in time\n";

std::string in_time(int millis) {
    return "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nslow 1 after " + std::to_string(millis) +
           "ms";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(watchdog_contract, watchdog_fixture)

BOOST_AUTO_TEST_CASE(a_call_in_time_is_the_handler_s_and_one_past_its_timeout_gets_504) {
    replug::watchdog watch(1, log);
    auto asked = std::chrono::steady_clock::now();
    auto fast = serve(watch, 0);
    if (std::chrono::steady_clock::now() - asked < 100ms) {  // not held up past the timeout by a loaded machine
        BOOST_TEST(fast.output == in_time(0));
        BOOST_TEST(timeouts() == 0u);
    }
    BOOST_TEST(fast.end_requests == 1);

    auto started = std::chrono::steady_clock::now();
    // Ten times the timeout: the watchdog looks every 100 ms, and a loaded machine may delay it some.
    auto late = serve(watch, 1000);  // the handler ends after the 504, and writes into nothing
    BOOST_TEST(late.output == timed_out);
    BOOST_TEST(late.empty_stdouts == 1);
    BOOST_TEST(late.end_requests == 1);
    BOOST_TEST(timeouts() == (fast.output == timed_out ? 2u : 1u));
    BOOST_TEST((std::chrono::steady_clock::now() - started >= 1000ms));  // serve() waited for the handler
}

BOOST_AUTO_TEST_CASE(around_the_timeout_exactly_one_of_handler_and_watchdog_answers) {
    replug::watchdog watch(1, log);
    std::uint64_t ended_late = 0;  // answered 504, or cut
    // 0 to 290 ms in steps of 10: in time, around the 100 ms timeout and the 100 ms scans, past it.
    // Which of them answers a given sleep depends on when the watchdog thread runs: on a loaded
    // machine that can be 100 ms late, so only a call that sleeps not at all, and is not itself
    // held up past the timeout, is sure to be in time.
    for (int millis = 0; millis < 300; millis += 10) {
        auto asked = std::chrono::steady_clock::now();
        auto got = serve(watch, millis);
        auto took = std::chrono::steady_clock::now() - asked;
        BOOST_TEST_CONTEXT("sleep " << millis << " ms") {
            bool cut = got.end_requests == 0;
            if (cut) {  // the late handler had claimed the response: nothing of it may have been mixed in
                BOOST_TEST(got.empty_stdouts == 0);
                BOOST_TEST(in_time(millis).starts_with(got.output), got.output);
            } else {
                BOOST_TEST(got.end_requests == 1);
                BOOST_TEST(got.empty_stdouts == 1);
                BOOST_TEST((got.output == in_time(millis) || got.output == timed_out), got.output);
            }
            if (millis == 0 && took < 100ms) BOOST_TEST(got.output == in_time(millis));
            if (got.output == timed_out || cut) BOOST_TEST((took >= 100ms));  // never before its timeout
            if (cut || got.output == timed_out) ++ended_late;
        }
    }
    BOOST_TEST(timeouts() == ended_late);
    BOOST_TEST(watch.taken_over() == 0);  // every handler returned
}

BOOST_AUTO_TEST_SUITE_END()
