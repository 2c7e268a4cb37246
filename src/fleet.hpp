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
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel.hpp"
#include "crash_policy.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "recycle_policy.hpp"
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
    serving_limits limits;  // until set_limits()
    // A handler call still running this long past its timeout gets its
    // worker killed (see check_handlers).
    std::chrono::milliseconds handler_timeout_grace{5000};
};

class fleet final : public route_control {
public:
    // LISTEN_FD is the socket every worker serves; BOARD has a slot for
    // each worker, and as many spare ones, where a worker's replacement
    // starts while it drains (fewer spares: fewer recycles at once, none
    // without). Both outlive the fleet.
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
    // The recycling limits apply from the next tick; the caps at once.
    void set_limits(const serving_limits& limits) override EXCLUDES(mutex_);

    // Every worker slot, in slot order, then the recycled workers still draining.
    std::vector<worker_status> workers() const EXCLUDES(mutex_);
    // Worker threads inside a request now, over every worker.
    int busy() const;

    // The main loop's part. The admin channels to wait on: (fd, scoreboard slot).
    std::vector<std::pair<int, unsigned>> admin_channels() const EXCLUDES(mutex_);
    // Reads the request the worker in scoreboard slot SLOT forwarded and
    // answers it with ANSWER (or takes note that it retires).
    void answer_admin(unsigned slot, const std::function<admin_answer(const admin_call&)>& answer);
    // Reaps every worker that ended: logs and counts its crash, rolls back
    // a version that keeps crashing, schedules its replacement.
    void reap() EXCLUDES(mutex_);
    // When tick() has something to do next (a replacement to start, the
    // recycling limits to check).
    std::optional<std::chrono::steady_clock::time_point> next_due() const EXCLUDES(mutex_);
    // Starts the replacements that are due; recycles a worker past a limit;
    // kills a worker whose handler is past its timeout + grace (check_handlers).
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
    // replacement waits out the back-off, and no crash is counted), or
    // retired (a handler timed out: it retired itself, or the master killed
    // it at timeout + grace; replaced at once, no crash counted).
    enum class ending { none, stopped, killed, retired };

    // A worker process. workers_[N] serves worker slot N (status's "slot");
    // its scoreboard slot, SLOT, is another one after a recycle.
    struct worker_process {
        unsigned slot = 0;  // on the scoreboard
        unsigned position = 0;  // its index in workers_ (the worker slot), kept while it drains
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
        std::optional<worker_end> previous_end;
        std::optional<worker_end> ends_as;  // note_ending: why it ends, when it is known before it does
        bool killed_wedged = false;  // check_handlers sent it SIGKILL
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
    // Installs TABLE in every serving worker (and every draining one) as one
    // transaction; the answer holds what the first worker loaded, per route.
    // CHECK_ONLY: every worker loads it and then aborts (conflict when no
    // worker serves).
    outcome<std::vector<prepared_route>> transact(const std::vector<planned_route>& table, bool check_only = false)
        REQUIRES(mutex_);
    // reload_options::check: the committed table with MODULE as TARGET's
    // next generation, loaded by every worker and aborted.
    outcome<swap_report> check(const fleet_route& target, std::shared_ptr<const sealed_module> module)
        REQUIRES(mutex_);
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
    // Why the worker in worker slot SLOT ended, for status (the one seam
    // every kind of end goes through).
    void note_ended(unsigned slot, worker_end end) REQUIRES(mutex_);

    // Recycling. Each serving worker past a limit, while a spare scoreboard
    // slot is free, is replaced gracefully: its replacement
    // starts in the spare slot, loads and commits the committed table
    // (under mutex_: no transaction runs meanwhile, and the ones after
    // include it), and only then does the old one get SIGTERM and drain,
    // so capacity never drops.
    void recycle_due() REQUIRES(mutex_);
    // What the recycling policy is told of WORKER (of workers_) at NOW.
    worker_reading reading_of(const worker_process& worker, clock::time_point now) const REQUIRES(mutex_);
    // True when WORKER marked itself draining on the scoreboard: it retired
    // (a handler timeout, twice --max-rss) or its master stopped it.
    bool retired(const worker_process& worker) const;
    void replace_gracefully(unsigned position, std::string_view limit, const worker_reading& reading)
        REQUIRES(mutex_);
    std::optional<unsigned> free_board_slot() const REQUIRES(mutex_);
    // The worker (serving, or draining) in scoreboard slot SLOT; null when none.
    worker_process* in_board_slot(unsigned slot) REQUIRES(mutex_);
    // A recycled worker still serves the requests already sent on its
    // connections (nginx's kept-alive ones too): it takes part in every
    // transaction while it drains, so that none of them runs on a table
    // that is no longer committed. What it prepared fills LOADED when no
    // serving worker's did (they all retired meanwhile). When no other
    // worker loaded the table, its refusal is the table's (a load hook said
    // no) and fails the transaction, into REFUSED; otherwise its failures
    // fail nothing: a draining worker that cannot load what the others
    // commit is killed; one that ended meanwhile is left out.
    std::vector<worker_process*> send_to_draining(std::uint64_t transaction, const std::vector<planned_route>& table)
        REQUIRES(mutex_);
    // True when TABLE has a route whose module bytes are neither the version
    // it serves nor the one before (new code no worker has loaded yet).
    bool holds_new_code(const std::vector<planned_route>& table) const REQUIRES(mutex_);
    void await_draining(const std::vector<worker_process*>& asked, std::uint64_t transaction, std::size_t routes,
                        channel::clock::time_point deadline, std::vector<worker_process*>& prepared,
                        std::optional<std::vector<prepared_route>>& loaded, std::optional<failure>& refused)
        REQUIRES(mutex_);
    void kill_draining(worker_process& worker, const std::string& why) REQUIRES(mutex_);
    // A recycled worker ended (drained, or not).
    void drained(const worker_process& worker, const ended_child& ended) REQUIRES(mutex_);
    // Sets every route's gate cap, and --max-rss, on the scoreboard from limits_.
    void publish_caps() REQUIRES(mutex_);
    worker_status describe_worker(const worker_process& worker, clock::time_point now) const REQUIRES(mutex_);

    // Handler timeouts (the watchdog in the worker answers them; see watchdog.hpp).
    // Records why WORKER ends, before it does (reap() passes it on to
    // note_ended and previous_exit).
    void note_ending(worker_process& worker, worker_end end) REQUIRES(mutex_);
    // Worker WORKER said it retires: it is out of every transaction from now
    // on. After a handler timeout it is replaced, at once, when it exits;
    // past twice --max-rss, while ALIVE (the notice was read from a living
    // worker), its replacement starts now, in a spare scoreboard slot.
    void retire(worker_process& worker, const retiring_notice& notice, bool alive) REQUIRES(mutex_);
    // Reads what WORKER's admin channel still holds, for a retiring notice
    // sent just before it exited.
    void read_last_words(worker_process& worker) REQUIRES(mutex_);
    // Kills every worker with a handler call past its timeout + grace: the
    // watchdog in it could not end it (the worker is wedged), or the stuck
    // thread keeps a retiring worker from exiting. Logs what that costs.
    void check_handlers() REQUIRES(mutex_);
    // When check_handlers has to look next.
    std::optional<clock::time_point> next_handler_check() const REQUIRES(mutex_);
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
    std::list<worker_process> retiring_ GUARDED_BY(mutex_);  // recycled, draining
    serving_limits limits_ GUARDED_BY(mutex_);
    std::uint64_t rss_limit_warned_ GUARDED_BY(mutex_) = 0;  // the --max-rss said to be below a fresh worker
    clock::time_point next_check_ GUARDED_BY(mutex_);  // of the recycling limits
    resolver resolver_ GUARDED_BY(mutex_);
    // Bytes rolled back automatically, per route pattern and sha256: why.
    std::map<std::pair<std::string, std::string>, std::string> refused_bytes_ GUARDED_BY(mutex_);
    std::uint64_t transactions_ GUARDED_BY(mutex_) = 0;
    bool stopping_ GUARDED_BY(mutex_) = false;
    histogram swap_seconds_{histogram::swap_buckets};
};

}  // namespace replug

#endif
