// What the master and a worker say to each other over their channels (see
// channel.hpp), as fields: each message starts with its name.
//
// Control channel (the master asks, the worker answers):
//   start SLOT THREADS LOG_LEVEL DRAIN_MS ADMIN_PREFIX PROBE_PREFIX MAX_BODY (no answer)
//   load TXID N [route fields, settings x N] + N memfds -> prepared TXID [VERSION LOAD_MS] x N
//                                               | refused TXID REASON
//   commit TXID                                -> committed TXID | refused TXID REASON
//   abort TXID                                 -> aborted TXID
// Admin channel (a worker forwards, the master answers):
//   admin ID METHOD PATH QUERY AUTHORIZATION REMOTE_ADDR  -> answer ID STATUS BODY [NAME VALUE]...
//   retiring REASON ROUTE     (no answer: the worker takes no new requests and
//                              exits once the rest are done; REASON: timeout,
//                              ROUTE the route that timed out; or max-rss,
//                              ROUTE the path of the request after which it
//                              was past twice --max-rss)
// Every answer names the question it answers (TXID, ID): one that arrives
// after its asker gave up is recognized and dropped, never taken for the
// answer to the next question.
#ifndef REPLUG_WORKER_MESSAGES_HPP
#define REPLUG_WORKER_MESSAGES_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "outcome.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace replug {

using fields = std::vector<std::string>;

// What a worker needs to know before it serves.
struct worker_settings {
    unsigned slot = 0;
    unsigned threads = 1;
    log_level level = log_level::info;
    std::chrono::milliseconds drain_timeout{10000};
    std::string admin_prefix = "/-/";  // empty: admin is off
    std::string probe_prefix = "/-/";  // where ready and live answer, admin on or off
    std::uint64_t max_body = default_max_body;
};

fields encode_start(const worker_settings& settings);
outcome<worker_settings> decode_start(const fields& message);

// One route of a table the master installs; its module's memfd travels as
// the message's fd of the same index.
struct table_route {
    route_spec spec;
    std::uint32_t slot = 0;  // its counters' place on the scoreboard
    std::uint64_t generation = 0;
    std::string file;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::string sha256;
    // Until when (unix seconds) the route answers 503 instead of calling its
    // handler, because it kept crashing with nothing to roll back to; 0: it serves.
    std::int64_t unavailable_until = 0;
};

fields encode_load(std::uint64_t transaction, const std::vector<table_route>& table);
// REQUIRES: MESSAGE's name is "load".
outcome<std::pair<std::uint64_t, std::vector<table_route>>> decode_load(const fields& message);

// What one worker loaded for one route.
struct prepared_route {
    std::string version;
    double load_milliseconds = 0;
};

fields encode_prepared(std::uint64_t transaction, const std::vector<prepared_route>& routes);
// REQUIRES: MESSAGE answers TRANSACTION (answers_transaction).
outcome<std::vector<prepared_route>> decode_prepared(const fields& message, std::size_t routes);

// True when MESSAGE (prepared, refused, committed, aborted) answers TRANSACTION.
bool answers_transaction(const fields& message, std::uint64_t transaction);

// A request for the admin endpoints that a worker received.
struct admin_call {
    std::uint64_t id = 0;  // the forwarding worker's count, echoed in the answer
    std::string method;
    std::string path;
    std::string query;
    std::string authorization;
    std::string remote_address;
};

fields encode_admin_call(const admin_call& call);
outcome<admin_call> decode_admin_call(const fields& message);

// The master's answer to it.
struct admin_answer {
    std::uint64_t id = 0;
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// A worker that stops taking requests by itself (a handler of ROUTE timed out).
struct retiring_notice {
    std::string reason;
    std::string route;
};

fields encode_retiring(const retiring_notice& notice);
// REQUIRES: MESSAGE's name is "retiring".
outcome<retiring_notice> decode_retiring(const fields& message);

fields encode_admin_answer(const admin_answer& answer);
outcome<admin_answer> decode_admin_answer(const fields& message);


}  // namespace replug

#endif
