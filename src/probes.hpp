// The probes under the admin prefix, for load balancers and orchestrators
// (Kubernetes readiness and liveness probes). They answer without a token,
// admin on or off, with a one-word body and nothing else to tell:
//   GET ready   200 "ready"     serving; 503 "stopping" from SIGTERM (or
//                               SIGINT) on, through --shutdown-delay and the drain
//   GET live    200 "live"      whenever the process answers at all
// A process answers only once every route is loaded (a worker: once it has
// installed its first table), so any answer means loaded. With worker
// processes the worker that receives a probe answers it, from the flag the
// master sets in the scoreboard: a probe never waits for the master, which
// may be busy with a long reload.
#ifndef REPLUG_PROBES_HPP
#define REPLUG_PROBES_HPP

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "dispatcher.hpp"
#include "replug/module.hpp"

namespace replug {

class probes {
public:
    // STOPPING is nonzero from SIGTERM on; it outlives the probes.
    probes(std::string admin_prefix, const std::atomic<std::uint32_t>& stopping)
        : ready_(admin_prefix + "ready"), live_(admin_prefix + "live"), stopping_(stopping) {}

    // Mounts both paths, exactly, in REQUESTS (before its prefix mounts).
    void mount(dispatcher& requests) const;

    // REQUIRES: req.path() is one of the two probe paths.
    void handle(request& req, response& res) const;

private:
    std::string ready_;
    std::string live_;
    const std::atomic<std::uint32_t>& stopping_;
};

}  // namespace replug

#endif
