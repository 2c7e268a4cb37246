// The one door for "reload everything" (SIGHUP and POST reload): re-read
// the configuration, apply its route table all or nothing, refresh watch
// mode, and say which changed settings wait for the next start. A failure
// leaves the running table in force.
#ifndef REPLUG_RELOADER_HPP
#define REPLUG_RELOADER_HPP

#include <functional>
#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "outcome.hpp"
#include "route_control.hpp"

namespace replug {

class reloader {
public:
    // ARGS are the command line the server started with (the config file it
    // names is read again at each reload); STARTED is what it started with.
    reloader(std::vector<std::string> args, config started, route_control& routes, logger& log)
        : args_(std::move(args)), started_(std::move(started)), routes_(routes), log_(log) {}

    // Runs after every table that applied (watch mode re-reads its files).
    void after_apply(std::function<void()> hook) { after_apply_ = std::move(hook); }

    // Thread-safe: the registry serializes the apply.
    outcome<std::vector<swap_report>> reload_everything();

private:
    const std::vector<std::string> args_;
    const config started_;
    route_control& routes_;
    logger& log_;
    std::function<void()> after_apply_;
};

}  // namespace replug

#endif
