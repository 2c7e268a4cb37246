#include "dispatcher.hpp"

#include <string>

#include "last_gasp.hpp"
#include "router.hpp"
#include "scoreboard.hpp"

namespace replug {

void dispatcher::serve(fcgi_request& call) const {
    std::string_view path = call.path();
    if (!acceptable_path(path)) {
        log_.warn("bad request: unusable path \"", printable(path), "\"");
        return call.fail(400, "Bad Request");
    }
    for (const auto& [prefix, handler] : mounts_)
        if (path.starts_with(prefix)) return handler(call);
    auto pin = routes_ ? routes_->pin(path) : std::nullopt;
    if (!pin) return call.fail(404, "Not Found");
    if (auto wait = pin->unavailable_for()) {  // it kept crashing, with nothing to roll back to
        call.status(503);
        call.header("Retry-After", std::to_string(wait));
        return call.write("Service Unavailable: this route's handler keeps crashing\n");
    }
    const auto& pinned = pin->version();
    call.enter({&pin->settings(), pin->pattern(), pinned.origin().module, pinned.version(), pinned.generation(), &log_});
    std::optional<std::string> what;
    if (auto* slot = this_thread_slot()) {  // a worker's thread: the master sees the call, and a crash answers 500
        last_gasp_request crash_answer(call);
        slot->begin(pin->slot(), pin->version().generation());
        what = pin->call(call, call);
        slot->end();
    } else {
        what = pin->call(call, call);
    }
    if (what) {
        const auto& version = pin->version();
        log_.error("handler threw route=", printable(path), " module=", version.origin().module,
                   " version=", version.version(), " generation=", version.generation(), " what=\"",
                   printable(*what, 1024), "\"");
        call.fail(500, "Internal Server Error");
    }
}

}  // namespace replug
