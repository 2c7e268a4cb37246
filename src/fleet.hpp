// The master's side of the worker processes. It starts them, hands each the
// route table, turns every change of the table into one transaction over
// all of them (load everywhere, then commit everywhere, or abort
// everywhere), attributes their crashes from the scoreboard, replaces them,
// and rolls back a freshly swapped version that keeps crashing.
//
// It never loads module code: it resolves a route's module, checks and
// seals its bytes into a memfd (loader::seal), and the workers load that.
// So no module can crash the master.
//
// Threads: the route_control calls come from the admin endpoints (on the
// main thread, or the --admin-listen thread) and from watch mode; reap(),
// tick(), answer_admin() and stop() from the main thread only, which is the
// only one that starts or replaces workers (PR_SET_PDEATHSIG follows the
// thread that forked). One mutex serializes every change.
#ifndef REPLUG_FLEET_HPP
#define REPLUG_FLEET_HPP

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel.hpp"
#include "crash_policy.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "resolver.hpp"
#include "route_control.hpp"
#include "scoreboard.hpp"
#include "spawn.hpp"
#include "thread_safety.hpp"
#include "worker_messages.hpp"

namespace replug {

struct fleet_settings {
    std::string program;  // the replugd binary the workers run
    unsigned workers = 2;
    worker_settings worker;  // the same for every worker but the slot
    rollback_policy rollback;
};

class fleet final : public route_control {
public:
    // LISTEN_FD is the socket every worker serves; BOARD has a slot for
    // each worker. Both outlive the fleet.
    fleet(fleet_settings settings, int listen_fd, loader& sealer, scoreboard& board, const logger& log);
    ~fleet() override;
    fleet(const fleet&) = delete;
    fleet& operator=(const fleet&) = delete;

    // Seals every route of SPECS, starts the workers and installs the table
    // in each. On failure every worker started is stopped again and the
    // reason names the route or the worker.
    outcome<std::vector<swap_report>> start(const std::vector<route_spec>& specs,
                                            const std::vector<std::filesystem::path>& search_path)
        EXCLUDES(mutex_);

    // route_control, over every worker.
    outcome<std::vector<swap_report>> apply(const std::vector<route_spec>& specs,
                                            const std::vector<std::filesystem::path>& search_path) override
        EXCLUDES(mutex_);
    outcome<swap_report> reload(std::string_view pattern, reload_options options = {}) override EXCLUDES(mutex_);
    outcome<swap_report> rollback(std::string_view pattern) override EXCLUDES(mutex_);
    std::vector<route_status> status() const override EXCLUDES(mutex_);
    histogram_snapshot swap_seconds() const override { return swap_seconds_.snapshot(); }
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> watch_list() const override
        EXCLUDES(mutex_);

    std::vector<worker_status> workers() const EXCLUDES(mutex_);
    // Worker threads inside a request now, over every worker.
    int busy() const;

    // The main loop's part. The admin channels to wait on: (fd, slot).
    std::vector<std::pair<int, unsigned>> admin_channels() const EXCLUDES(mutex_);
    // Reads the request worker SLOT forwarded and answers it with ANSWER.
    void answer_admin(unsigned slot, const std::function<admin_answer(const admin_call&)>& answer);
    // Reaps every worker that ended: logs and counts its crash, rolls back
    // a version that keeps crashing, schedules its replacement.
    void reap() EXCLUDES(mutex_);
    // When tick() has something to do next (a replacement to start).
    std::optional<std::chrono::steady_clock::time_point> next_due() const EXCLUDES(mutex_);
    // Starts the replacements that are due.
    void tick() EXCLUDES(mutex_);
    // Stops every worker: SIGTERM, then waits for them within DRAIN and a
    // grace second, then SIGKILL. Returns how many had to be killed.
    int stop(std::chrono::milliseconds drain) EXCLUDES(mutex_);

private:
    using clock = std::chrono::steady_clock;

    // A version the master has sealed and the workers run (or ran).
    struct installed {
        std::shared_ptr<const sealed_module> module;
        std::string version;
        std::uint64_t generation = 0;
        std::chrono::system_clock::time_point loaded_at;
        double load_milliseconds = 0;
    };

    struct fleet_route {
        route_spec spec;
        std::uint32_t slot = 0;
        installed current;
        std::optional<installed> previous;
        std::uint64_t next_generation = 1;
        std::uint64_t reloads_ok = 0;
        std::uint64_t reloads_failed = 0;
        std::uint64_t crashes = 0;
        clock::time_point swapped_at;
        crash_policy crashes_of_current;
        // With no previous version to roll back to, a crashing route answers
        // 503 until then (unix seconds).
        std::int64_t unavailable_until = 0;
        std::string last_error;
        std::chrono::system_clock::time_point last_error_at;
        bool last_reload_failed = false;
    };

    enum class worker_phase { waiting, starting, serving, stopping };
    // Why a worker the master ended ends: stopped (a planned stop), or
    // killed (it failed to start, or lost step with the master: its
    // replacement waits out the back-off, and no crash is counted).
    enum class ending { none, stopped, killed };

    struct worker_process {
        unsigned slot = 0;
        pid_t pid = 0;
        worker_phase phase = worker_phase::waiting;
        ending ended_by_master = ending::none;
        std::optional<channel> control;
        std::optional<channel> admin;
        clock::time_point started;
        std::chrono::system_clock::time_point started_at;
        respawn_backoff backoff;
        clock::time_point due;  // when a waiting slot starts its next worker
        std::string previous_exit;
    };

    // One route of a table being installed.
    struct planned_route {
        route_spec spec;
        std::uint32_t slot = 0;
        std::uint64_t generation = 0;
        std::shared_ptr<const sealed_module> module;
        std::int64_t unavailable_until = 0;
    };

    fleet_route* find(std::string_view pattern) REQUIRES(mutex_);
    std::vector<planned_route> committed_table() const REQUIRES(mutex_);
    outcome<std::vector<planned_route>> seal_table(const std::vector<route_spec>& specs, const resolver& paths)
        REQUIRES(mutex_);
    // Installs TABLE in every serving worker as one transaction; the
    // answer holds what the first worker loaded, per route.
    outcome<std::vector<prepared_route>> transact(const std::vector<planned_route>& table) REQUIRES(mutex_);
    // Starts the worker of SLOT and installs the committed table in it.
    outcome<pid_t> start_worker(worker_process& worker) REQUIRES(mutex_);
    channel_status send_table(worker_process& worker, std::uint64_t transaction,
                              const std::vector<planned_route>& table) REQUIRES(mutex_);
    // The answer to TRANSACTION by DEADLINE (earlier answers are dropped).
    // A worker that does not answer, or answers nonsense, is killed: its
    // channel can no longer be trusted.
    outcome<std::vector<prepared_route>> await_prepared(worker_process& worker, std::uint64_t transaction,
                                                        std::size_t routes, channel::clock::time_point deadline)
        REQUIRES(mutex_);
    received await_answer(worker_process& worker, std::uint64_t transaction, channel::clock::time_point deadline)
        REQUIRES(mutex_);
    void kill_worker(worker_process& worker, const std::string& why) REQUIRES(mutex_);
    // send_table, then await_prepared.
    outcome<std::vector<prepared_route>> install_in(worker_process& worker, std::uint64_t transaction,
                                                    const std::vector<planned_route>& table) REQUIRES(mutex_);
    // Makes TABLE, as LOADED by the workers, the committed one; logs each
    // swap unless QUIET.
    std::vector<swap_report> adopt(std::vector<planned_route> table, const std::vector<prepared_route>& loaded,
                                   bool quiet = false) REQUIRES(mutex_);
    // Installs the committed table with CHANGE made to route PATTERN, in
    // every worker; its report. PATTERN is a copy: the routes it might
    // refer to are replaced on the way.
    outcome<swap_report> change_route(std::string pattern, const std::function<void(planned_route&)>& change,
                                      bool quiet = false) REQUIRES(mutex_);
    void attribute_crash(const worker_process& worker, const ended_child& ended) REQUIRES(mutex_);
    void roll_back(fleet_route& route, std::string_view signal) REQUIRES(mutex_);
    void make_unavailable(fleet_route& route, std::string_view signal) REQUIRES(mutex_);
    std::optional<std::uint32_t> free_route_slot() const REQUIRES(mutex_);
    void record_failure(fleet_route& route, const std::string& why) REQUIRES(mutex_);
    // Handler calls running now, over every worker: (route slot, generation) -> how many.
    using running_calls = std::map<std::pair<std::uint32_t, std::uint64_t>, std::int64_t>;
    running_calls handler_calls() const;
    version_status describe(const fleet_route& route, const installed& version, const running_calls& calls) const;

    const fleet_settings settings_;
    const int listen_fd_;
    loader& sealer_;
    scoreboard& board_;
    const logger& log_;

    mutable mutex mutex_;
    std::vector<fleet_route> routes_ GUARDED_BY(mutex_);  // in the order they were configured
    std::vector<worker_process> workers_ GUARDED_BY(mutex_);
    resolver resolver_ GUARDED_BY(mutex_);
    // Bytes rolled back automatically, per route pattern and sha256: why.
    std::map<std::pair<std::string, std::string>, std::string> refused_bytes_ GUARDED_BY(mutex_);
    std::uint64_t transactions_ GUARDED_BY(mutex_) = 0;
    bool stopping_ GUARDED_BY(mutex_) = false;
    histogram swap_seconds_{histogram::swap_buckets};
};

}  // namespace replug

#endif
