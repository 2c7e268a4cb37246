// The admin endpoints under --admin-prefix, each a call into route_control:
//   GET  status                 routes, versions, counters       200 JSON
//   POST reload?route=/x        reload one route                 200 | 404 | 422 JSON
//   POST reload?route=/x&check=1  load, check, unload: no swap   200 | 404 | 409 | 422 JSON
//   POST reload                 re-read the config, reload all   200 | 422 JSON (as SIGHUP)
//   POST rollback?route=/x      back to the previous version     200 | 404 | 409 JSON
//   GET  metrics                Prometheus text exposition        200
// Every request needs "Authorization: Bearer TOKEN" (401 without detail
// otherwise, checked first; a request with no Authorization at all also
// logs, at most once a minute, what front servers need to pass it);
// mutations need POST (405 otherwise).
#ifndef REPLUG_ADMIN_HPP
#define REPLUG_ADMIN_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "replug/module.hpp"
#include "log.hpp"
#include "outcome.hpp"
#include "route_control.hpp"
#include "reloader.hpp"

namespace replug {

// What the server tells status about itself.
struct server_facts {
    std::string build_version;
    int pid = 0;
    unsigned threads = 0;
    std::chrono::system_clock::time_point started_at;
    std::function<int()> busy_workers;  // worker threads serving a request now
    unsigned workers = 0;               // worker processes; 0: a single process
    std::function<std::vector<worker_status>()> worker_list;  // empty in a single process
};

// True when A and B are equal; the time taken does not depend on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Decodes %XX and '+' in a query component.
std::string url_decode(std::string_view text);

// The value of NAME in a query string, decoded; empty when absent.
std::string query_value(std::string_view query, std::string_view name);

class admin {
public:
    admin(std::string prefix, std::string token, route_control& routes, reloader& reloads, server_facts facts,
          const logger& log);

    // Where the endpoints live: mount handle() there.
    const std::string& prefix() const { return prefix_; }

    // REQUIRES: req.path() starts with prefix().
    void handle(request& req, response& res);

private:
    void status(response& res);
    void reload(request& req, response& res);
    void rollback(request& req, response& res);
    void metrics(response& res);
    // Logs what front servers need to pass Authorization, at most once a minute.
    void explain_missing_authorization();

    std::string prefix_;
    std::string token_;
    route_control& routes_;
    reloader& reloader_;
    server_facts facts_;
    const logger& log_;
    std::atomic<std::int64_t> last_missing_authorization_hint_{0};  // steady clock seconds
};

// Reads a token file: the first line, without surrounding white space.
outcome<std::string> read_token_file(const std::string& file);

}  // namespace replug

#endif
