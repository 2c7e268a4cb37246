#include "dispatcher.hpp"

#include <string>

#include "last_gasp.hpp"
#include "router.hpp"
#include "scoreboard.hpp"
#include "text.hpp"
#include "watchdog.hpp"

namespace replug {

namespace {

// The route has as many requests in its handler as --max-in-flight allows.
void refuse_over_cap(fcgi_request& call) {
    call.status(503);
    call.header("Retry-After", "1");
    call.write("Service Unavailable: too many requests in this route at once\n");
}

}  // namespace

void dispatcher::serve(fcgi_request& call) const {
    std::string_view path = call.path();
    if (!acceptable_path(path)) {
        log_.warn("bad request: unusable path \"", printable(path), "\"");
        return call.fail(400, "Bad Request");
    }
    if (auto length = call.param("CONTENT_LENGTH"); !length.empty()) {
        auto bytes = parse_decimal(length);  // nullopt: not digits, or past 2^64
        if (!bytes && length.find_first_not_of("0123456789") != std::string_view::npos) {
            log_.warn("bad request: unusable CONTENT_LENGTH \"", printable(length, 32), "\" path=", printable(path));
            return call.fail(400, "Bad Request");
        }
        if (!bytes || *bytes > max_body_) {
            log_.warn("request refused status=413 path=", printable(path), " content_length=", printable(length, 32),
                      " max_body=", max_body_);
            return call.fail(413, "Content Too Large: the request body is larger than the server's --max-body");
        }
    }
    call.limit_body(max_body_);
    for (const auto& [exact, handler] : exact_)
        if (path == exact) return handler(call);
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
    std::optional<route_pin::exception_text> thrown;
    {
        watched_call watched(call, *pin);  // past the route's timeout, the watchdog answers 504
        if (auto* slot = this_thread_slot()) {  // a worker's thread: the master sees the call, and a crash answers 500
            last_gasp_request crash_answer(call);
            auto timeout = std::chrono::nanoseconds(pin->handler_timeout()).count();
            auto started = std::chrono::duration_cast<std::chrono::nanoseconds>(pin->started().time_since_epoch());
            // Inside the gate only between begin() and end(): a worker that dies
            // there leaves the gate through the master (scoreboard::reset_worker).
            slot->begin(pin->slot(), pin->version().generation(), static_cast<std::uint64_t>(timeout),
                        static_cast<std::uint64_t>(started.count()));
            if (!pin->enter_gate()) {
                slot->end();
                return refuse_over_cap(call);
            }
            thrown = pin->call(call, call);
            pin->leave_gate();
            slot->end();
        } else {
            if (!pin->enter_gate()) return refuse_over_cap(call);
            thrown = pin->call(call, call);
            pin->leave_gate();
        }
    }
    const auto& version = pin->version();
    // The server's own refusal first: it stands even when the handler caught it.
    auto refused = call.rejection();
    if (!refused && thrown && thrown->bad_request) refused = fcgi_request::rejection_reason{400, thrown->what};
    if (refused) {
        log_.warn("request refused status=", refused->status, " route=", printable(path),
                  " module=", version.origin().module, " version=", version.version(), " reason=\"",
                  printable(refused->reason, 1024), "\"");
        call.fail(refused->status, std::string(refused->status == 413 ? "Content Too Large: " : "Bad Request: ") +
                                       printable(refused->reason, 512));
    } else if (thrown) {
        log_.error("handler threw route=", printable(path), " module=", version.origin().module,
                   " version=", version.version(), " generation=", version.generation(), " what=\"",
                   printable(thrown->what, 1024), "\"");
        call.fail(500, "Internal Server Error");
    }
}

}  // namespace replug
