#include "reloader.hpp"

namespace replug {

outcome<std::vector<swap_report>> reloader::reload_everything() {
    auto fresh = parse_config(args_);
    if (!fresh) return failure{"config: " + fresh.reason()};
    log_.set_level(fresh->level);
    // Routes (with their handler timeouts and slow log), the module path and
    // the log level apply now; the rest is
    // fixed for the life of the process.
    if (fresh->listen != started_.listen || fresh->threads != started_.threads ||
        fresh->admin_listen != started_.admin_listen || fresh->admin_token_file != started_.admin_token_file ||
        fresh->admin_prefix != started_.admin_prefix || fresh->watch != started_.watch || fresh->dev != started_.dev ||
        fresh->handler_timeout_grace != started_.handler_timeout_grace)
        log_.warn("config: listen, threads, admin, watch, dev and handler-timeout-grace settings changed; "
                  "they apply at the next start");
    std::lock_guard lock(mutex_);
    auto swaps = apply(*fresh);
    if (swaps) applied_ = std::move(*fresh);
    return swaps;
}

outcome<std::vector<swap_report>> reloader::apply_again() {
    std::lock_guard lock(mutex_);
    return apply(applied_);
}

outcome<std::vector<swap_report>> reloader::apply(const config& settings) {
    auto routes = settings.routes;
    auto search_path = settings.module_path;
    if (extra_routes_) extra_routes_(routes, search_path);
    auto swaps = routes_.apply(routes, search_path);
    if (swaps) routes_.set_limits({settings.recycle, settings.max_in_flight});  // with the table they name
    if (swaps && after_apply_) after_apply_();
    return swaps;
}

}  // namespace replug
