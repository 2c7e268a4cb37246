// The master's main loop: its signals (SIGHUP reloads, SIGTERM and SIGINT
// stop, SIGCHLD reaps workers), the admin requests its workers forward,
// and the replacements it starts. One thread: the one that started the
// workers, so that their PR_SET_PDEATHSIG stays armed for the master's life.
#ifndef REPLUG_MASTER_HPP
#define REPLUG_MASTER_HPP

#include <chrono>
#include <optional>

#include "admin.hpp"
#include "fleet.hpp"
#include "log.hpp"
#include "reloader.hpp"

namespace replug {

// Runs until SIGTERM or SIGINT and returns that signal, or -1 when the loop
// itself fails (then replugd stops and exits 1). With UNTIL, at the latest
// until then, and returns 0 (the shutdown delay). ENDPOINTS may be null
// (admin is off): forwarded requests then get 404.
int run_master_loop(fleet& workers, reloader& reloads, admin* endpoints, const logger& log,
                    std::optional<std::chrono::steady_clock::time_point> until = {});

// ENDPOINTS' answer to a request a worker forwarded.
admin_answer answer_forwarded(admin& endpoints, const admin_call& call);

}  // namespace replug

#endif
