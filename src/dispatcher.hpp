// The per-request decision, in order: 400 for a path that cannot be routed,
// The per-request decision, in order: 400 for a path that cannot be routed,
// 413 for a body over --max-body (by its CONTENT_LENGTH, before any handler
// runs), a handler mounted at a path (the probes) or a prefix (the admin
// endpoints, mounted like any other handler), the route's module, or 404.
// After the handler: 400 (413) when the request was refused while it ran (a
// malformed query or form, a bad_request it threw, a body longer than it
// claimed), 500 when it threw anything else. The transport knows nothing of
// what a path means.
#ifndef REPLUG_DISPATCHER_HPP
#define REPLUG_DISPATCHER_HPP

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fcgi_request.hpp"
#include "log.hpp"
#include "registry.hpp"

namespace replug {

class dispatcher {
public:
    // ROUTES may be null: then only mounted handlers answer (a control
    // socket that serves the admin endpoints alone). MAX_BODY: --max-body.
    dispatcher(const registry* routes, const logger& log, std::uint64_t max_body = default_max_body)
        : routes_(routes), log_(log), max_body_(max_body) {}

    // Requests whose path starts with PREFIX go to HANDLER, before any route.
    void mount(std::string prefix, request_handler handler) {
        mounts_.emplace_back(std::move(prefix), std::move(handler));
    }

    // A request for exactly PATH goes to HANDLER, before any prefix mount.
    void mount_exact(std::string path, request_handler handler) {
        exact_.emplace_back(std::move(path), std::move(handler));
    }

    void serve(fcgi_request& call) const;

private:
    const registry* routes_;
    const logger& log_;
    std::uint64_t max_body_;
    std::vector<std::pair<std::string, request_handler>> exact_;
    std::vector<std::pair<std::string, request_handler>> mounts_;
};

}  // namespace replug

#endif
