#include "probes.hpp"

namespace replug {

void probes::mount(dispatcher& requests) const {
    for (const auto* path : {&ready_, &live_})
        requests.mount_exact(*path, [this](fcgi_request& call) { handle(call, call); });
}

void probes::handle(request& req, response& res) const {
    res.header("Content-Type", "text/plain");
    res.header("Cache-Control", "no-store");
    if (req.method() != "GET" && req.method() != "HEAD") {
        res.status(405);
        res.header("Allow", "GET, HEAD");
        res.write("GET required\n");
        return;
    }
    if (req.path() == live_) {
        res.write("live\n");
    } else if (stopping_.load(std::memory_order_acquire) != 0) {
        res.status(503);
        res.write("stopping\n");
    } else {
        res.write("ready\n");
    }
}

}  // namespace replug
