// The one door for "reload everything" (SIGHUP and POST reload): re-read
// the configuration, apply its route table all or nothing, refresh watch
// mode, and say which changed settings wait for the next start. A failure
// leaves the running table in force.
#ifndef REPLUG_RELOADER_HPP
#define REPLUG_RELOADER_HPP

#include <filesystem>
#include <functional>
#include <mutex>
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
        : args_(std::move(args)), started_(started), applied_(std::move(started)), routes_(routes), log_(log) {}

    // Runs after every table that applied (watch mode re-reads its files).
    void after_apply(std::function<void()> hook) { after_apply_ = std::move(hook); }

    // Routes that do not come from the configuration (dev mode's): HOOK
    // adds them to every table applied, and may put directories in front of
    // the search path. Set it before the first reload.
    using route_source = std::function<void(std::vector<route_spec>&, std::vector<std::filesystem::path>&)>;
    void extra_routes(route_source hook) { extra_routes_ = std::move(hook); }

    // Thread-safe: the registry serializes the apply.
    outcome<std::vector<swap_report>> reload_everything();

    // Applies the configuration that applied last (or the one the server
    // started with) again, with the extra routes as they are now: for a
    // route source whose routes changed. The config file is not re-read.
    // Thread-safe.
    outcome<std::vector<swap_report>> apply_again();

private:
    outcome<std::vector<swap_report>> apply(const config& settings);

    const std::vector<std::string> args_;
    const config started_;
    std::mutex mutex_;  // one table at a time, so that the last one applied is applied_
    config applied_;
    route_control& routes_;
    logger& log_;
    std::function<void()> after_apply_;
    route_source extra_routes_;
};

}  // namespace replug

#endif
