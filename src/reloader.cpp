#include "reloader.hpp"

namespace replug {

outcome<std::vector<swap_report>> reloader::reload_everything() {
    auto fresh = parse_config(args_);
    if (!fresh) return failure{"config: " + fresh.reason()};
    log_.set_level(fresh->level);
    // Routes, the module path and the log level apply now; the rest is
    // fixed for the life of the process.
    if (fresh->listen != started_.listen || fresh->threads != started_.threads ||
        fresh->admin_listen != started_.admin_listen || fresh->admin_token_file != started_.admin_token_file ||
        fresh->admin_prefix != started_.admin_prefix || fresh->watch != started_.watch)
        log_.warn("config: listen, threads, admin and watch settings changed; they apply at the next start");
    auto swaps = routes_.apply(fresh->routes, fresh->module_path);
    if (swaps) routes_.set_limits({fresh->recycle, fresh->max_in_flight});  // with the table they name
    if (swaps && after_apply_) after_apply_();
    return swaps;
}

}  // namespace replug
