#include "fleet.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <set>
#include <sstream>
#include <thread>

#include "process.hpp"

namespace replug {

namespace {

using namespace std::chrono_literals;

// How long a worker may take to answer the master: to start, or to load a
// table (load hooks may talk to a database).
constexpr auto answer_timeout = 30s;
constexpr auto send_timeout = 5s;
// How often the master reads its workers' request counts, RSS and ages
// against the recycling limits: a worker overshoots a limit by what it does
// in this time (and while its replacement starts).
constexpr auto recycle_check_interval = 100ms;
// After a replacement failed to start, the worker it was for keeps serving
// this long before another try.
constexpr auto recycle_retry = 1s;

// Workers' fds, as spawn_worker places them.
constexpr int worker_listen_fd = 3;
constexpr int worker_control_fd = 4;
constexpr int worker_admin_fd = 5;
constexpr int worker_board_fd = 6;

std::string milliseconds(double value) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(2) << value << "ms";
    return text.str();
}

// Why a worker the master did not stop ended.
worker_end end_of(const ended_child& ended, bool killed_by_master) {
    if (killed_by_master) return {"killed", ended.description};
    if (WIFSIGNALED(ended.status)) return {"crash", signal_name(WTERMSIG(ended.status))};
    if (WIFEXITED(ended.status)) return {"exit", "status " + std::to_string(WEXITSTATUS(ended.status))};
    return {"exit", ended.description};
}

std::string shown(const std::string& version, std::uint64_t generation) {
    return version.empty() ? "generation " + std::to_string(generation) : version;
}

}  // namespace

fleet::fleet(fleet_settings settings, int listen_fd, loader& sealer, scoreboard& board, const logger& log)
    : settings_(std::move(settings)), listen_fd_(listen_fd), sealer_(sealer), board_(board), log_(log), resolver_({}) {
    lock_guard lock(mutex_);
    limits_ = settings_.limits;
    publish_caps();
    for (unsigned slot = 0; slot < settings_.workers; ++slot) {
        worker_process worker;
        worker.slot = slot;
        worker.position = slot;
        workers_.push_back(std::move(worker));
    }
}

fleet::~fleet() { stop(0ms); }

fleet::fleet_route* fleet::find(std::string_view pattern) {
    for (auto& route : routes_)
        if (route.spec.pattern == pattern) return &route;
    return nullptr;
}

std::vector<fleet::planned_route> fleet::committed_table() const {
    std::vector<planned_route> table;
    for (const auto& route : routes_)
        table.push_back({route.spec, route.slot, route.current.generation, route.current.module, route.unavailable_until});
    return table;
}

std::optional<std::uint32_t> fleet::free_route_slot() const {
    std::set<std::uint32_t> taken;
    for (const auto& route : routes_) taken.insert(route.slot);
    for (std::uint32_t slot = 0; slot < scoreboard::max_routes; ++slot)
        if (!taken.contains(slot) && board_.route_totals(slot).in_flight == 0) return slot;
    return std::nullopt;
}

outcome<std::vector<fleet::planned_route>> fleet::seal_table(const std::vector<route_spec>& specs,
                                                             const resolver& paths) {
    // Every route's module travels as one fd in one message.
    if (specs.size() > max_message_fds)
        return failure{std::to_string(specs.size()) + " routes: with worker processes, at most " +
                       std::to_string(max_message_fds) + " (or --workers 0)"};
    std::vector<planned_route> table;
    std::set<std::uint32_t> given;
    for (const auto& spec : specs) {
        auto file = paths.resolve(spec.module);
        if (!file) return failure{"route " + spec.pattern + ": " + file.reason()};
        auto sealed = sealer_.seal(*file, spec.module);
        if (!sealed) {
            if (auto* existing = find(spec.pattern)) record_failure(*existing, sealed.reason());
            return failure{"route " + spec.pattern + ": " + sealed.reason()};
        }
        planned_route planned{spec, 0, 1, std::make_shared<const sealed_module>(std::move(*sealed))};
        if (auto* existing = find(spec.pattern)) {
            planned.slot = existing->slot;
            planned.generation = existing->next_generation;
            planned.unavailable_until = existing->unavailable_until;
            auto refused = refused_bytes_.find({spec.pattern, planned.module->sha256});
            if (refused != refused_bytes_.end()) {  // a reload of everything keeps this route as it is
                log_.warn("route=", spec.pattern, " keeps generation ", existing->current.generation, ": ",
                          file->string(), " (sha256 ", planned.module->sha256, ") was ", refused->second,
                          "; reload it with force=1 to serve it");
                planned.generation = existing->current.generation;
                planned.module = existing->current.module;
            } else {
                planned.unavailable_until = 0;  // new bytes: a new start
            }
        } else {
            std::optional<std::uint32_t> slot;
            for (std::uint32_t candidate = 0; candidate < scoreboard::max_routes && !slot; ++candidate) {
                bool taken = given.contains(candidate) || std::any_of(routes_.begin(), routes_.end(), [&](const auto& r) {
                                 return r.slot == candidate;
                             });
                if (!taken && board_.route_totals(candidate).in_flight == 0) slot = candidate;
            }
            if (!slot) return failure{"route " + spec.pattern + ": more than 1024 routes"};
            planned.slot = *slot;
            board_.clear_route(*slot);  // what a route that left counted there is not this one's
        }
        given.insert(planned.slot);
        table.push_back(std::move(planned));
    }
    return table;
}

channel_status fleet::send_table(worker_process& worker, std::uint64_t transaction,
                                const std::vector<planned_route>& table) {
    std::vector<table_route> wire;
    std::vector<int> fds;
    for (const auto& route : table) {
        const auto& module = *route.module;
        wire.push_back({route.spec, route.slot, route.generation, module.file.string(),
                        static_cast<std::uint64_t>(module.inode), static_cast<std::int64_t>(module.size),
                        module.sha256, route.unavailable_until});
        fds.push_back(module.memfd.get());
    }
    auto sent = worker.control->send(encode_load(transaction, wire), fds, send_timeout);
    if (!sent && sent.status != channel_status::peer_closed)
        log_.error("worker ", worker.pid, ": cannot send it the table: ", sent.reason);
    return sent.status;
}

void fleet::kill_worker(worker_process& worker, const std::string& why) {
    log_.error("worker ", worker.pid, " (slot ", worker.slot, "): ", why, "; killing it");
    worker.ended_by_master = ending::killed;
    worker.phase = worker_phase::stopping;
    ::kill(worker.pid, SIGKILL);
}

received fleet::await_answer(worker_process& worker, std::uint64_t transaction, channel::clock::time_point deadline) {
    while (true) {
        auto answer = worker.control->receive(deadline);
        if (!answer || answers_transaction(answer.fields, transaction)) return answer;
        log_.debug("worker ", worker.pid, ": dropping a late answer (", printable(answer.fields[0]), ")");
    }
}

outcome<std::vector<prepared_route>> fleet::await_prepared(worker_process& worker, std::uint64_t transaction,
                                                           std::size_t routes, channel::clock::time_point deadline) {
    auto answer = await_answer(worker, transaction, deadline);
    if (answer.status == channel_status::peer_closed) {
        // A handler of the table it served crashed it meanwhile: not this
        // table's fault; reap() replaces it with the committed table.
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t)
            if (board_.thread(worker.slot, t).read().state == thread_state::crashed)
                return failure{"worker " + std::to_string(worker.pid) + " is gone", failure_kind::not_found};
        // It retired meanwhile (a handler timeout, or twice --max-rss): it drained every request
        // before it closed its channel, so it serves no table again; reap() replaces it.
        if (retired(worker))
            return failure{"worker " + std::to_string(worker.pid) + " retired", failure_kind::not_found};
        return failure{"a worker (pid " + std::to_string(worker.pid) +
                       ") died while loading it; its crash is in the log"};
    }
    if (answer && answer.fields[0] == "refused" && answer.fields.size() >= 3) return failure{answer.fields[2]};
    auto prepared = answer ? decode_prepared(answer.fields, routes) : outcome<std::vector<prepared_route>>(
                                                                          failure{answer.reason});
    if (!prepared) {
        std::string why = "did not load in time or answered nonsense: " + prepared.reason();
        kill_worker(worker, why);
        return failure{"worker " + std::to_string(worker.pid) + " " + why};
    }
    return prepared;
}

outcome<std::vector<prepared_route>> fleet::install_in(worker_process& worker, std::uint64_t transaction,
                                                       const std::vector<planned_route>& table) {
    auto sent = send_table(worker, transaction, table);
    if (sent == channel_status::peer_closed)
        return failure{"worker " + std::to_string(worker.pid) + " is gone", failure_kind::not_found};
    if (sent != channel_status::ok) return failure{"worker " + std::to_string(worker.pid) + ": cannot send"};
    return await_prepared(worker, transaction, table.size(), channel::clock::now() + answer_timeout);
}

bool fleet::holds_new_code(const std::vector<planned_route>& table) const {
    auto served = [](const auto& version, const planned_route& planned) {
        return version.module && version.module->sha256 == planned.module->sha256;
    };
    for (const auto& planned : table) {
        if (!planned.module) continue;
        auto route = std::find_if(routes_.begin(), routes_.end(),
                                  [&](const auto& r) { return r.spec.pattern == planned.spec.pattern; });
        if (route == routes_.end()) return true;
        if (!served(route->current, planned) && !(route->previous && served(*route->previous, planned))) return true;
    }
    return false;
}

outcome<std::vector<prepared_route>> fleet::transact(const std::vector<planned_route>& table, bool check_only) {
    auto transaction = ++transactions_;
    auto started = clock::now();
    // Every worker loads at once; then every answer is read, so that no
    // channel keeps an answer for a later question.
    auto deadline = channel::clock::now() + answer_timeout;  // for the whole transaction
    std::vector<worker_process*> asked;
    std::optional<failure> refused;
    unsigned retired_meanwhile = 0;  // serving workers that retired (a timeout, twice --max-rss) instead of answering
    for (auto& worker : workers_)
        if (worker.phase == worker_phase::serving) {
            auto sent = send_table(worker, transaction, table);
            if (sent == channel_status::ok)
                asked.push_back(&worker);
            else if (sent == channel_status::timed_out)  // alive but not reading: it cannot take part
                kill_worker(worker, "its control channel is full");
            else if (sent == channel_status::failed && !refused)  // refused here, nothing was sent
                refused = failure{"the table cannot be sent to the workers (see the log)"};
            // peer_closed: gone before it heard; reap() replaces it with the committed table.
            else if (sent == channel_status::peer_closed && retired(worker))
                ++retired_meanwhile;  // it retired before its notice was read
        }
    auto draining = send_to_draining(transaction, table);
    std::vector<worker_process*> prepared;
    std::optional<std::vector<prepared_route>> loaded;
    for (auto* worker : asked) {
        auto answer = await_prepared(*worker, transaction, table.size(), deadline);
        if (!answer && answer.kind() == failure_kind::not_found) {
            if (retired(*worker)) ++retired_meanwhile;
            continue;
        }
        if (!answer) {
            if (!refused) refused = answer.error();
            continue;
        }
        prepared.push_back(worker);
        if (!loaded) loaded = std::move(*answer);
    }
    await_draining(draining, transaction, table.size(), deadline, prepared, loaded, refused);
    // Every worker asked retired while it loaded (a timeout, or twice --max-rss), and no draining
    // one loaded it either: nobody checked this table's new code, and the replacements would load
    // it unchecked. (A table of code served before, a rollback's, goes on as when no worker serves.)
    if (!refused && retired_meanwhile > 0 && !loaded && holds_new_code(table))
        refused = failure{"the workers retired while loading it (they are being replaced); try again",
                          failure_kind::conflict};
    std::string verb = refused || check_only ? "abort" : "commit";
    std::vector<worker_process*> told;
    for (auto* worker : prepared) {
        auto sent = worker->control->send({verb, std::to_string(transaction)}, {}, send_timeout);
        if (sent)
            told.push_back(worker);
        else if (sent.status != channel_status::peer_closed)  // it would serve a table nobody committed
            kill_worker(*worker, "cannot tell it to " + verb + ": " + sent.reason);
    }
    for (auto* worker : told) {
        auto answer = await_answer(*worker, transaction, deadline + answer_timeout);
        // Its state is unknown now: it must not serve. Its replacement loads the committed table.
        if (!answer && answer.status != channel_status::peer_closed)
            kill_worker(*worker, "did not " + verb + " transaction " + std::to_string(transaction) + ": " + answer.reason);
        else if (answer && answer.fields[0] == "refused")
            kill_worker(*worker, "refused to " + verb + ": " + (answer.fields.size() > 2 ? answer.fields[2] : ""));
    }
    if (refused) return *refused;
    if (check_only) {
        if (!loaded)
            return failure{"no worker is serving now to check it in (they are being replaced); try again",
                           failure_kind::conflict};
        return *loaded;
    }
    log_.debug("transaction ", transaction, " committed in ", prepared.size(), " worker(s) in ",
               milliseconds(std::chrono::duration<double, std::milli>(clock::now() - started).count()));
    if (!loaded) {  // no worker serving right now: they load it when they start
        loaded.emplace();
        for (std::size_t i = 0; i < table.size(); ++i) {
            const auto* existing = find(table[i].spec.pattern);
            std::string version;
            if (existing && existing->current.generation == table[i].generation)
                version = existing->current.version;
            else if (existing && existing->previous && existing->previous->generation == table[i].generation)
                version = existing->previous->version;
            loaded->push_back({version, 0});
        }
    }
    return *loaded;
}

std::vector<swap_report> fleet::adopt(std::vector<planned_route> table, const std::vector<prepared_route>& loaded,
                                     bool quiet) {
    std::vector<fleet_route> next;
    std::vector<swap_report> reports;
    auto now = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < table.size(); ++i) {
        auto& planned = table[i];
        fleet_route route;
        route.crashes_of_current = crash_policy(settings_.rollback);
        if (auto* existing = find(planned.spec.pattern)) route = std::move(*existing);
        swap_report report{planned.spec.pattern, planned.spec.module, planned.module->file.string(), {}, 0,
                           loaded[i].version, planned.generation, loaded[i].load_milliseconds, {},
                           planned.module->sha256};
        installed version{planned.module, loaded[i].version, planned.generation, now, loaded[i].load_milliseconds};
        bool is_new = route.current.generation == 0;
        if (!is_new) {
            report.old_version = route.current.version;
            report.old_generation = route.current.generation;
            report.old_sha256 = route.current.module->sha256;
        }
        if (route.current.generation != planned.generation) {
            if (route.previous && route.previous->generation == planned.generation)
                route.previous.reset();  // back to it: one level deep
            else if (!is_new)
                route.previous = std::move(route.current);
            route.current = std::move(version);
            route.reloads_ok += 1;
            swap_seconds_.observe(loaded[i].load_milliseconds / 1000.0);
            route.swapped_at = clock::now();
            route.crashes_of_current.swapped(route.swapped_at);
            route.last_error.clear();
            route.last_reload_failed = false;
            if (quiet)
                ;
            else if (is_new)
                log_.info("load route=", report.pattern, " module=", report.module, " version=", report.new_version,
                          " generation=", report.new_generation, " load=", milliseconds(report.load_milliseconds),
                          " file=", report.file, " sha256=", planned.module->sha256,
                          " workers=", settings_.workers);
            else
                log_.info("reload route=", report.pattern, " module=", report.module, " ", report.old_version,
                          " -> ", report.new_version, " generation=", report.new_generation,
                          " load=", milliseconds(report.load_milliseconds), " file=", report.file,
                          " sha256=", planned.module->sha256);
        }
        route.spec = planned.spec;
        route.slot = planned.slot;
        route.unavailable_until = planned.unavailable_until;
        route.next_generation = std::max(route.next_generation, planned.generation + 1);
        next.push_back(std::move(route));
        reports.push_back(std::move(report));
    }
    for (const auto& gone : routes_)
        if (!gone.spec.pattern.empty() &&
            std::none_of(next.begin(), next.end(), [&](const auto& r) { return r.spec.pattern == gone.spec.pattern; }))
            log_.info("route removed route=", gone.spec.pattern, " (its requests finish on their version)");
    routes_ = std::move(next);
    publish_caps();
    return reports;
}

outcome<pid_t> fleet::start_worker(worker_process& worker) {
    auto control = channel_pair();
    auto admin = channel_pair();
    if (!control || !admin) return failure{"cannot make a worker's channels: " + (control ? admin.reason() : control.reason())};
    board_.reset_worker(worker.slot);
    auto& slot = board_.worker(worker.slot);
    slot.state.store(worker_state::starting, std::memory_order_release);
    unique_fd control_child = control->second.release();
    unique_fd admin_child = admin->second.release();
    spawn_request request{settings_.program,
                          {"replugd", "--worker", std::to_string(worker.slot)},
                          std::nullopt,
                          {{listen_fd_, worker_listen_fd},
                           {control_child.get(), worker_control_fd},
                           {admin_child.get(), worker_admin_fd},
                           {board_.fd(), worker_board_fd}}};
    auto pid = spawn_worker(request);
    if (!pid) return pid.error();
    worker.pid = *pid;
    worker.phase = worker_phase::starting;
    worker.ended_by_master = ending::none;
    worker.control.emplace(std::move(control->first));
    worker.admin.emplace(std::move(admin->first));
    worker.started = clock::now();
    worker.started_at = std::chrono::system_clock::now();
    slot.pid.store(*pid, std::memory_order_release);
    slot.requests.store(0, std::memory_order_relaxed);  // status shows what this process served
    slot.started_unix_ns.store(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                              worker.started_at.time_since_epoch())
                                                              .count()),
                               std::memory_order_release);

    auto settings = settings_.worker;
    settings.slot = worker.slot;
    auto fail = [&](const std::string& why) -> failure {
        ::kill(*pid, SIGKILL);
        worker.phase = worker_phase::stopping;  // reaped by reap(), which starts another after the back-off
        worker.ended_by_master = ending::killed;
        return failure{"worker " + std::to_string(*pid) + " (slot " + std::to_string(worker.slot) + "): " + why};
    };
    if (auto sent = worker.control->send(encode_start(settings), {}, send_timeout); !sent) return fail(sent.reason);
    auto transaction = ++transactions_;
    auto table = committed_table();
    auto loaded = install_in(worker, transaction, table);
    if (!loaded) return fail(loaded.reason());
    for (std::size_t i = 0; i < routes_.size() && i < loaded->size(); ++i)
        if (routes_[i].current.version.empty() && routes_[i].current.load_milliseconds == 0) {
            routes_[i].current.version = (*loaded)[i].version;
            routes_[i].current.load_milliseconds = (*loaded)[i].load_milliseconds;
        }
    if (auto sent = worker.control->send({"commit", std::to_string(transaction)}, {}, send_timeout); !sent)
        return fail(sent.reason);
    auto committed = await_answer(worker, transaction, channel::clock::now() + answer_timeout);
    if (!committed || committed.fields[0] != "committed")
        return fail(committed ? "refused the table: " + (committed.fields.size() > 2 ? committed.fields[2] : "")
                              : committed.reason);
    worker.phase = worker_phase::serving;
    log_.info("worker started slot=", worker.slot, " pid=", *pid, " routes=", table.size());
    if (auto limit = limits_.recycle.max_rss_mib; limit && limit != rss_limit_warned_) {
        auto resident = resident_bytes(*pid).value_or(0);
        if (resident >= limit << 20) {  // once per limit: it would be said for every worker that replaces one
            rss_limit_warned_ = limit;
            log_.error("--max-rss ", limit, " MiB is below what a worker holds before it serves anything (",
                       resident >> 20, " MiB, pid ", *pid, "): every worker will be replaced as soon as it "
                       "starts; raise it");
        }
    }
    return *pid;
}

outcome<std::vector<swap_report>> fleet::start(const std::vector<route_spec>& specs,
                                               const std::vector<std::filesystem::path>& search_path) {
    lock_guard lock(mutex_);
    resolver paths(search_path);
    auto table = seal_table(specs, paths);
    if (!table) return table.error();
    resolver_ = std::move(paths);
    // Nothing serves yet: the table is the committed one before any worker loads it.
    std::vector<prepared_route> unknown(table->size());
    adopt(*table, unknown, true);
    std::optional<failure> failed;
    for (auto& worker : workers_) {
        auto started = start_worker(worker);
        if (!started) {
            failed = started.error();
            break;
        }
    }
    if (failed) {
        for (auto& worker : workers_)
            if (worker.pid > 0) ::kill(worker.pid, SIGKILL);
        for (auto& worker : workers_) {
            if (worker.pid > 0) ::waitpid(worker.pid, nullptr, 0);
            worker.pid = 0;
            worker.phase = worker_phase::waiting;
            worker.control.reset();
            worker.admin.reset();
        }
        stopping_ = true;  // nothing to replace: replugd exits
        return *failed;
    }
    // What the workers loaded, as the reports and logs show it.
    std::vector<swap_report> reports;
    for (auto& route : routes_) {
        reports.push_back({route.spec.pattern, route.spec.module, route.current.module->file.string(), {}, 0,
                           route.current.version, route.current.generation, route.current.load_milliseconds, {},
                           route.current.module->sha256});
        log_.info("load route=", route.spec.pattern, " module=", route.spec.module, " version=",
                  route.current.version, " generation=", route.current.generation,
                  " load=", milliseconds(route.current.load_milliseconds), " file=", route.current.module->file.string(), " sha256=", route.current.module->sha256,
                  " workers=", settings_.workers);
    }
    return reports;
}

outcome<swap_report> fleet::change_route(std::string pattern, const std::function<void(planned_route&)>& change,
                                         bool quiet) {
    auto table = committed_table();
    for (auto& planned : table)
        if (planned.spec.pattern == pattern) change(planned);
    auto loaded = transact(table);
    if (!loaded) return loaded.error();
    auto reports = adopt(std::move(table), *loaded, quiet);
    for (auto& report : reports)
        if (report.pattern == pattern) return report;
    return failure{"route " + pattern + " vanished"};
}

outcome<std::vector<swap_report>> fleet::apply(const std::vector<route_spec>& specs,
                                               const std::vector<std::filesystem::path>& search_path) {
    lock_guard lock(mutex_);
    resolver paths(search_path);
    auto table = seal_table(specs, paths);
    if (!table) return table.error();
    auto loaded = transact(*table);
    if (!loaded) {
        for (const auto& planned : *table)
            if (auto* existing = find(planned.spec.pattern)) record_failure(*existing, loaded.reason());
        return loaded.error();
    }
    resolver_ = std::move(paths);
    return adopt(std::move(*table), *loaded);
}

void fleet::record_failure(fleet_route& route, const std::string& why) {
    route.reloads_failed += 1;
    route.last_error = why;
    route.last_error_at = std::chrono::system_clock::now();
    route.last_reload_failed = true;
}

outcome<swap_report> fleet::reload(std::string_view pattern, reload_options options) {
    lock_guard lock(mutex_);
    auto* target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    auto refuse = [&](const std::string& why, failure_kind kind = failure_kind::failed) REQUIRES(mutex_) {
        std::string still = shown(target->current.version, target->current.generation);
        if (options.check) {  // a check changes nothing, its books included
            log_.warn("reload check route=", pattern, " refused: ", why, " (serving ", still, ")");
            return failure{why, kind};
        }
        record_failure(*target, why);
        log_.error("reload route=", pattern, " refused: ", why, " (still serving ", still, ")");
        return failure{why, kind};
    };
    auto file = resolver_.resolve(target->spec.module);
    if (!file) return refuse(file.reason());
    auto sealed = sealer_.seal(*file, target->spec.module);
    if (!sealed) return refuse(sealed.reason());
    auto known_bad = refused_bytes_.find({target->spec.pattern, sealed->sha256});
    if (known_bad != refused_bytes_.end() && !options.force)
        return refuse("module " + file->string() + " (sha256 " + sealed->sha256 + ") was " + known_bad->second +
                      "; reload with force=1 to serve these bytes anyway");
    auto module = std::make_shared<const sealed_module>(std::move(*sealed));
    if (options.check) return check(*target, module);
    auto swapped = change_route(target->spec.pattern, [&](planned_route& planned) {
        planned.generation = target->next_generation;
        planned.module = module;
        planned.unavailable_until = 0;
    });
    if (!swapped) return refuse("module " + file->string() + ": " + swapped.reason(), swapped.kind());
    return swapped;
}

outcome<swap_report> fleet::check(const fleet_route& target, std::shared_ptr<const sealed_module> module) {
    auto table = committed_table();
    std::size_t index = 0;
    for (std::size_t i = 0; i < table.size(); ++i)
        if (table[i].spec.pattern == target.spec.pattern) {
            index = i;
            table[i].generation = target.next_generation;
            table[i].module = module;
            table[i].unavailable_until = 0;
        }
    auto loaded = transact(table, true);
    if (!loaded) {
        log_.warn("reload check route=", target.spec.pattern, " refused: ", loaded.reason(), " (serving ",
                  shown(target.current.version, target.current.generation), ")");
        return loaded.error();  // a worker's reason names the route and the module file
    }
    const auto& prepared = (*loaded)[index];
    swap_report report{target.spec.pattern,   target.spec.module,         module->file.string(),
                       target.current.version, target.current.generation, prepared.version,
                       target.next_generation, prepared.load_milliseconds, target.current.module->sha256,
                       module->sha256};
    log_.info("reload check route=", report.pattern, " module=", report.module, " ", report.old_version, " -> ",
              report.new_version, " would swap: load=", milliseconds(report.load_milliseconds), " file=", report.file,
              " sha256=", report.new_sha256, " workers=", settings_.workers, " (nothing swapped)");
    return report;
}

outcome<swap_report> fleet::rollback(std::string_view pattern) {
    lock_guard lock(mutex_);
    auto* target = find(pattern);
    if (!target) return failure{"no route " + std::string(pattern), failure_kind::not_found};
    if (!target->previous)
        return failure{"route " + std::string(pattern) + " has no previous version to roll back to",
                       failure_kind::conflict};
    std::string back_from = target->current.version;
    auto back = *target->previous;
    auto swapped = change_route(target->spec.pattern, [&](planned_route& planned) {
        planned.generation = back.generation;
        planned.module = back.module;
    }, true);
    if (!swapped)
        return failure{"route " + std::string(pattern) + ": rollback refused: " + swapped.reason(), swapped.kind()};
    log_.info("rollback route=", swapped->pattern, " module=", swapped->module, " ", back_from, " -> ",
              swapped->new_version, " generation=", swapped->new_generation);
    return swapped;
}

fleet::running_calls fleet::handler_calls() const {
    running_calls calls;
    for (unsigned w = 0; w < board_.workers(); ++w)
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t) {
            auto reading = board_.thread(w, t).read();
            if (reading.state == thread_state::in_handler) ++calls[{reading.route_slot, reading.generation}];
        }
    return calls;
}

version_status fleet::describe(const fleet_route& route, const installed& version, const running_calls& calls) const {
    auto running = calls.find({route.slot, version.generation});
    std::int64_t in_flight = running == calls.end() ? 0 : running->second;
    const auto& module = *version.module;
    return {version.version,
            version.generation,
            module.file.string(),
            static_cast<std::uint64_t>(module.inode),
            static_cast<std::int64_t>(module.size),
            version.loaded_at,
            version.load_milliseconds,
            in_flight,
            module.sha256};
}

std::vector<route_status> fleet::status() const {
    lock_guard lock(mutex_);
    std::vector<route_status> all;
    auto calls = handler_calls();  // one reading of the scoreboard for every route
    for (const auto& route : routes_) {
        route_status entry;
        entry.spec = route.spec;
        entry.current = describe(route, route.current, calls);
        if (route.previous) entry.previous = describe(route, *route.previous, calls);
        // Older generations still inside a handler somewhere: draining.
        for (auto each = calls.lower_bound({route.slot, 0}); each != calls.end() && each->first.first == route.slot;
             ++each) {
            auto generation = each->first.second;
            if (generation == route.current.generation || (route.previous && generation == route.previous->generation))
                continue;
            version_status draining;
            draining.generation = generation;
            draining.in_flight = each->second;
            entry.draining.push_back(draining);
        }
        auto totals = board_.route_totals(route.slot);
        entry.requests = totals.requests;
        entry.errors = totals.errors;
        entry.in_flight = totals.in_flight;
        entry.rejected = totals.rejected;
        entry.timeouts = totals.timeouts;
        entry.slow_requests = totals.slow_requests;
        entry.latency_seconds = totals.latency_seconds;
        entry.reloads_ok = route.reloads_ok;
        entry.reloads_failed = route.reloads_failed;
        entry.crashes = route.crashes;
        entry.last_error = route.last_error;
        entry.last_error_at = route.last_error_at;
        entry.last_reload_failed = route.last_reload_failed;
        all.push_back(std::move(entry));
    }
    return all;
}

std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> fleet::watch_list() const {
    lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> list;
    for (const auto& route : routes_) list.emplace_back(route.spec.pattern, resolver_.candidates(route.spec.module));
    return list;
}

worker_status fleet::describe_worker(const worker_process& worker, clock::time_point now) const {
    worker_status entry;
    entry.slot = worker.position;
    entry.pid = worker.phase == worker_phase::waiting ? 0 : worker.pid;
    entry.state = worker.phase == worker_phase::serving    ? "serving"
                  : worker.phase == worker_phase::starting ? "starting"
                  : worker.phase == worker_phase::stopping ? "stopping"
                                                           : "waiting";
    entry.started_at = worker.started_at;
    if (entry.pid > 0) {
        entry.age_seconds = std::chrono::duration<double>(now - worker.started).count();
        entry.requests = board_.worker(worker.slot).requests.load(std::memory_order_relaxed);
        entry.rss_bytes = resident_bytes(entry.pid).value_or(0);
        entry.rss_kib = entry.rss_bytes / 1024;
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t) {
            auto reading = board_.thread(worker.slot, t).read();
            if (reading.state == thread_state::in_handler && reading.route_slot < scoreboard::max_routes)
                ++entry.busy_threads;  // in a handler: not forwarding an admin request
        }
    }
    entry.previous_exit = worker.previous_exit;
    entry.previous_end = worker.previous_end;
    return entry;
}

std::vector<worker_status> fleet::workers() const {
    lock_guard lock(mutex_);
    std::vector<worker_status> all;
    auto now = clock::now();
    for (const auto& worker : workers_) all.push_back(describe_worker(worker, now));
    for (const auto& worker : retiring_) {
        all.push_back(describe_worker(worker, now));
        all.back().state = "draining";
        all.back().previous_exit.clear();
        all.back().previous_end.reset();
    }
    return all;
}

int fleet::busy() const {
    int busy = 0;
    for (unsigned w = 0; w < board_.workers(); ++w)
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t)
            if (board_.thread(w, t).read().state == thread_state::in_handler) ++busy;
    return busy;
}

std::vector<std::pair<int, unsigned>> fleet::admin_channels() const {
    lock_guard lock(mutex_);
    std::vector<std::pair<int, unsigned>> channels;
    for (const auto& worker : workers_)
        if (worker.admin && worker.phase != worker_phase::waiting) channels.emplace_back(worker.admin->fd(), worker.slot);
    for (const auto& worker : retiring_)  // a draining worker may still forward what it received
        if (worker.admin) channels.emplace_back(worker.admin->fd(), worker.slot);
    return channels;
}

void fleet::answer_admin(unsigned slot, const std::function<admin_answer(const admin_call&)>& answer) {
    // Only the main thread replaces workers, and it is the one here: the
    // channel stays while this runs, without the lock (the answer takes it).
    const channel* admin = nullptr;
    {
        lock_guard lock(mutex_);
        if (auto* worker = in_board_slot(slot); worker && worker->admin) admin = &*worker->admin;
    }
    if (!admin) return;
    auto message = admin->receive(0ms);
    if (!message) return;  // closed: reap() learns why
    if (message.fields[0] == "retiring") {
        lock_guard lock(mutex_);
        auto notice = decode_retiring(message.fields);
        if (!notice)
            log_.error("worker slot=", slot, ": ", notice.reason());
        else if (auto* worker = in_board_slot(slot))
            retire(*worker, *notice, true);
        return;
    }
    auto call = decode_admin_call(message.fields);
    if (!call) {
        log_.error("worker slot=", slot, ": ", call.reason());
        return;
    }
    admin_answer reply = answer(*call);
    reply.id = call->id;
    auto sent = admin->send(encode_admin_answer(reply), {}, send_timeout);
    if (!sent && sent.status != channel_status::peer_closed) {
        log_.error("admin ", printable(call->path), ": cannot pass the answer on (", sent.reason, ")");
        admin->send(encode_admin_answer({call->id, 500, "the answer is too large to pass on: " + sent.reason + "\n", {}}),
                    {}, send_timeout);
    }
}

void fleet::attribute_crash(const worker_process& worker, const ended_child& ended) {
    int signal = WIFSIGNALED(ended.status) ? WTERMSIG(ended.status) : 0;
    std::string cause = signal ? signal_name(signal) : ended.description;
    struct culprit {
        std::uint32_t route_slot;
        std::uint64_t generation;
        int signal;
        bool certain;
    };
    std::vector<culprit> culprits;
    unsigned in_handler = 0;
    std::vector<thread_reading> readings;
    for (unsigned t = 0; t < board_.threads_per_worker(); ++t) {
        auto reading = board_.thread(worker.slot, t).read();
        if (reading.route_slot >= scoreboard::max_routes) continue;  // idle, or forwarding an admin request
        if (reading.state == thread_state::crashed)
            culprits.push_back({reading.route_slot, reading.generation, reading.signal_number, true});
        if (reading.state == thread_state::in_handler) {
            ++in_handler;
            readings.push_back(reading);
        }
    }
    std::size_t certain = culprits.size();  // the crashed threads; the others were in a handler too
    if (culprits.empty())  // exit() or SIGKILL: every route that was in a handler, uncertain
        for (const auto& reading : readings) culprits.push_back({reading.route_slot, reading.generation, signal, false});
    if (culprits.empty()) {
        log_.error("worker died outside any handler worker=", worker.pid, " slot=", worker.slot, " ", ended.description);
        return;
    }
    for (const auto& each : culprits) {
        auto route = std::find_if(routes_.begin(), routes_.end(), [&](const auto& r) { return r.slot == each.route_slot; });
        if (route == routes_.end()) continue;
        const installed* version = route->current.generation == each.generation ? &route->current
                                   : route->previous && route->previous->generation == each.generation
                                       ? &*route->previous
                                       : nullptr;
        std::string signal_text = each.signal ? signal_name(each.signal) : ended.description;
        log_.error("crash route=", route->spec.pattern, " module=", route->spec.module,
                   " version=", version ? version->version : "?", " generation=", each.generation,
                   " signal=", signal_text, " worker=", worker.pid, " in_flight=", in_handler + certain,
                   each.certain ? "" : " uncertain=true (the worker ended while these handlers ran)");
        route->crashes += 1;
        if (each.certain && each.generation == route->current.generation) {
            auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
            switch (route->crashes_of_current.crashed(clock::now(), route->previous.has_value(),
                                                      route->unavailable_until > now_unix)) {
                case crash_policy::verdict::roll_back: roll_back(*route, signal_text); break;
                case crash_policy::verdict::unavailable: make_unavailable(*route, signal_text); break;
                case crash_policy::verdict::none: break;
            }
        }
    }
}

void fleet::roll_back(fleet_route& route, std::string_view signal) {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(route.crashes_of_current.since_swap()).count();
    std::string why = "rolled back: " + std::to_string(route.crashes_of_current.recent()) + " crashes (" +
                      std::string(signal) + ") within " + std::to_string(seconds) + " s of the swap";
    auto bad = route.current;
    auto back_to = *route.previous;
    std::string pattern = route.spec.pattern;
    auto swapped = change_route(pattern, [&](planned_route& planned) {
        planned.generation = back_to.generation;
        planned.module = back_to.module;
    }, true);
    if (!swapped) {
        log_.error("automatic rollback route=", pattern, " failed: ", swapped.reason());
        return;
    }
    auto* back = find(pattern);
    refused_bytes_[{pattern, bad.module->sha256}] = why;
    back->last_error = why;
    back->last_error_at = std::chrono::system_clock::now();
    log_.error("rollback route=", pattern, " module=", back->spec.module, " ", bad.version, " -> ",
               back->current.version, " generation=", back->current.generation, " automatic: ", why,
               "; sha256 ", bad.module->sha256, " refused from now on unless reloaded with force=1");
}

void fleet::make_unavailable(fleet_route& route, std::string_view signal) {
    using namespace std::chrono;
    auto crashes = route.crashes_of_current.recent();
    auto backoff = route.crashes_of_current.unavailable_for();
    auto now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
    std::string why = "answers 503 for " + std::to_string(backoff.count()) + " s: " +
                      std::to_string(crashes) + " crashes (" + std::string(signal) + ") within " +
                      std::to_string(settings_.rollback.window.count()) +
                      " s, and no previous version to roll back to; a reload ends it";
    std::string pattern = route.spec.pattern;
    auto changed = change_route(pattern, [&](planned_route& planned) { planned.unavailable_until = now + backoff.count(); },
                                true);
    if (!changed) {
        log_.error("route=", pattern, " could not be made unavailable: ", changed.reason());
        return;
    }
    auto* target = find(pattern);
    target->last_error = why;
    target->last_error_at = system_clock::now();
    log_.error("route=", pattern, " module=", target->spec.module, " version=", target->current.version, " ", why);
}

void fleet::reap() {
    auto ended = reap_children();
    if (ended.empty()) return;
    lock_guard lock(mutex_);
    for (const auto& child : ended) {
        auto old = std::find_if(retiring_.begin(), retiring_.end(), [&](const auto& w) { return w.pid == child.pid; });
        if (old != retiring_.end()) {
            drained(*old, child);
            retiring_.erase(old);
            continue;
        }
        auto worker = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w.pid == child.pid; });
        if (worker == workers_.end()) continue;
        read_last_words(*worker);
        bool planned = stopping_ || worker->ended_by_master == ending::stopped ||
                       worker->ended_by_master == ending::retired;
        bool killed = worker->ended_by_master == ending::killed;
        // Out of every transaction first: a rollback that the crash sets off goes to the living.
        worker->phase = worker_phase::waiting;
        worker->control.reset();
        worker->admin.reset();
        if (worker->ends_as) {
            const auto& end = *worker->ends_as;
            worker->previous_exit =
                (end.reason == "timeout" ? end.detail : end.reason + " (" + end.detail + ")") + " (" +
                child.description + ")";
            note_ended(worker->position, end);
        } else {
            worker->previous_exit = child.description + (killed ? " (by the master)" : "");
            if (!planned) note_ended(worker->position, end_of(child, killed));
        }
        worker->ends_as.reset();
        worker->killed_wedged = false;
        if (!planned && !killed) attribute_crash(*worker, child);
        board_.reset_worker(worker->slot);
        auto now = clock::now();
        worker->due = now + (planned ? clock::duration{} : worker->backoff.after_death(worker->started, now));
        worker->ended_by_master = ending::none;
        if (!stopping_)
            log_.at(planned ? log_level::info : log_level::warn, "worker ended slot=", worker->slot,
                    " pid=", worker->pid, " ", child.description, "; replacing it",
                    worker->due > now ? " after a back-off" : "");
        worker->pid = 0;
    }
}

std::optional<std::chrono::steady_clock::time_point> fleet::next_due() const {
    lock_guard lock(mutex_);
    std::optional<clock::time_point> next;
    if (stopping_) return next;
    for (const auto& worker : workers_)
        if (worker.phase == worker_phase::waiting && (!next || worker.due < *next)) next = worker.due;
    if (limits_.recycle.any() && (!next || next_check_ < *next)) next = next_check_;
    if (auto check = next_handler_check(); check && (!next || *check < *next)) next = check;
    return next;
}

void fleet::tick() {
    lock_guard lock(mutex_);
    if (stopping_) return;
    check_handlers();
    auto now = clock::now();
    for (auto& worker : workers_) {
        if (worker.phase != worker_phase::waiting || worker.due > now) continue;
        auto started = start_worker(worker);
        if (!started) {
            log_.error("cannot start a worker: ", started.reason());
            if (worker.phase == worker_phase::waiting)  // spawn itself failed: try again later
                worker.due = now + worker.backoff.after_death(now, now);
        }
    }
    recycle_due();
}

int fleet::stop(std::chrono::milliseconds drain) {
    std::vector<pid_t> running;
    {
        lock_guard lock(mutex_);
        if (stopping_ && drain > 0ms) return 0;
        stopping_ = true;
        for (auto& worker : workers_)
            if (worker.pid > 0) {
                running.push_back(worker.pid);
                worker.phase = worker_phase::stopping;
                worker.ended_by_master = ending::stopped;
                // Admin requests it forwards get no answer now: let them fail at once, not wait out the drain.
                if (worker.admin) ::shutdown(worker.admin->fd(), SHUT_RDWR);
                ::kill(worker.pid, SIGTERM);
            }
        for (auto& worker : retiring_) {  // draining already
            running.push_back(worker.pid);
            if (worker.admin) ::shutdown(worker.admin->fd(), SHUT_RDWR);
        }
    }
    auto deadline = clock::now() + drain + 1s;
    int killed = 0;
    while (!running.empty()) {
        std::erase_if(running, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == pid; });
        if (running.empty()) break;
        if (clock::now() >= deadline) {
            for (pid_t pid : running) {
                log_.warn("worker ", pid, " still running after the drain timeout; killing it");
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
                ++killed;
            }
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    lock_guard lock(mutex_);
    for (auto& worker : workers_) {
        worker.pid = 0;
        worker.phase = worker_phase::waiting;
        worker.control.reset();
        worker.admin.reset();
    }
    retiring_.clear();
    return killed;
}

void fleet::note_ended(unsigned slot, worker_end end) {
    if (slot < workers_.size()) workers_[slot].previous_end = std::move(end);
}

void fleet::set_limits(const serving_limits& limits) {
    lock_guard lock(mutex_);
    if (limits.recycle != limits_.recycle)
        log_.info("recycling limits: max-requests=", limits.recycle.max_requests,
                  " max-rss=", limits.recycle.max_rss_mib, "MiB max-lifetime=", limits.recycle.max_lifetime.count(),
                  "s (0: off)");
    limits_ = limits;
    publish_caps();
}

void fleet::publish_caps() {
    board_.max_rss_bytes().store(limits_.recycle.max_rss_mib << 20, std::memory_order_relaxed);
    for (const auto& route : routes_) {
        auto cap = std::find_if(limits_.max_in_flight.begin(), limits_.max_in_flight.end(),
                                [&](const auto& each) { return each.first == route.spec.pattern; });
        board_.gate(route.slot).set_cap(cap == limits_.max_in_flight.end() ? 0 : cap->second);
    }
}

fleet::worker_process* fleet::in_board_slot(unsigned slot) {
    for (auto& worker : workers_)
        if (worker.slot == slot) return &worker;
    for (auto& worker : retiring_)
        if (worker.slot == slot) return &worker;
    return nullptr;
}

std::optional<unsigned> fleet::free_board_slot() const {
    for (unsigned slot = 0; slot < board_.workers(); ++slot) {
        auto holds = [slot](const worker_process& w) { return w.slot == slot; };
        if (std::none_of(workers_.begin(), workers_.end(), holds) &&
            std::none_of(retiring_.begin(), retiring_.end(), holds))
            return slot;
    }
    return std::nullopt;
}

worker_reading fleet::reading_of(const worker_process& worker, clock::time_point now) const {
    return {worker.position, static_cast<unsigned>(workers_.size()),
            board_.worker(worker.slot).requests.load(std::memory_order_relaxed),
            resident_bytes(worker.pid).value_or(0), now - worker.started};
}

bool fleet::retired(const worker_process& worker) const {
    return board_.worker(worker.slot).state.load(std::memory_order_acquire) == worker_state::draining;
}

void fleet::recycle_due() {
    auto now = clock::now();
    if (stopping_ || !limits_.recycle.any() || now < next_check_) return;
    next_check_ = now + recycle_check_interval;
    for (unsigned position = 0; position < workers_.size(); ++position) {
        const auto& worker = workers_[position];
        if (worker.phase != worker_phase::serving) continue;
        auto reading = reading_of(worker, now);
        // Every worker past its limit, not only the first: with one a tick,
        // a busy worker behind one that keeps reaching its limit waited for
        // ever (seen: 8,710 requests served against a limit of 1,125).
        if (auto limit = limit_reached(limits_.recycle, reading)) replace_gracefully(position, *limit, reading);
    }
}

void fleet::replace_gracefully(unsigned position, std::string_view limit, const worker_reading& reading) {
    auto spare = free_board_slot();
    if (!spare) {  // every spare slot still holds a recycled worker that drains: next tick
        log_.debug("worker slot=", position, " is past ", limit, "; waiting for a recycled worker to finish draining");
        return;
    }
    worker_process fresh;
    fresh.slot = *spare;
    fresh.position = position;
    auto started = start_worker(fresh);
    if (!started) {
        bool retired = workers_[position].ended_by_master == ending::retired;  // it stops on its own
        log_.error("worker slot=", position, " pid=", workers_[position].pid, " is past ", limit,
                   " but its replacement did not start (", started.reason(), "); ",
                   retired ? "it is replaced when it exits" : "it keeps serving");
        if (!retired) next_check_ = clock::now() + recycle_retry;
        if (fresh.pid > 0) retiring_.push_back(std::move(fresh));  // killed: reap() collects it
        return;
    }
    // The replacement serves the committed table: only now does the old one stop taking requests.
    auto& slot = workers_[position];
    std::swap(slot.backoff, fresh.backoff);  // the slot's crash history stays with the slot
    std::swap(slot, fresh);
    auto& old = fresh;
    old.phase = worker_phase::stopping;
    old.ended_by_master = ending::stopped;
    ::kill(old.pid, SIGTERM);
    log_.info("worker recycled slot=", position, " pid=", old.pid, " -> ", slot.pid, " ", limit,
              " served=", reading.served, " rss=", reading.resident_bytes / (1024 * 1024), "MiB age=",
              std::chrono::duration_cast<std::chrono::seconds>(reading.age).count(), "s; it drains");
    slot.previous_exit = "recycled (" + std::string(limit) + ")";
    note_ended(position, {"recycled", std::string(limit)});
    retiring_.push_back(std::move(old));
}

std::vector<fleet::worker_process*> fleet::send_to_draining(std::uint64_t transaction,
                                                             const std::vector<planned_route>& table) {
    std::vector<worker_process*> asked;
    for (auto& worker : retiring_) {
        if (!worker.control || worker.ended_by_master == ending::killed) continue;
        auto sent = send_table(worker, transaction, table);
        if (sent == channel_status::ok)
            asked.push_back(&worker);
        else if (sent != channel_status::peer_closed)  // it would serve a table nobody committed
            kill_draining(worker, "cannot send it transaction " + std::to_string(transaction));
    }
    return asked;
}

void fleet::await_draining(const std::vector<worker_process*>& asked, std::uint64_t transaction,
                           std::size_t routes, channel::clock::time_point deadline,
                           std::vector<worker_process*>& prepared,
                           std::optional<std::vector<prepared_route>>& loaded, std::optional<failure>& refused) {
    for (auto* worker : asked) {
        auto answer = await_answer(*worker, transaction, deadline);
        if (answer.status == channel_status::peer_closed) continue;  // it finished draining meanwhile
        auto decoded = answer && answer.fields[0] == "prepared"
                           ? decode_prepared(answer.fields, routes)
                           : outcome<std::vector<prepared_route>>(failure{"not prepared"});
        if (decoded) {
            prepared.push_back(worker);
            if (!loaded) loaded = std::move(*decoded);
            continue;
        }
        if (answer && answer.fields[0] == "refused" && answer.fields.size() >= 3) {
            if (refused) continue;  // nothing is committed: it keeps serving the table before, as it should
            if (!loaded) {  // no other worker loaded it: its verdict is the only one, the table's fault
                refused = failure{answer.fields[2]};
                continue;
            }
            // Others loaded it: its own trouble (memory, its state handoff); killed below, as before.
        }
        kill_draining(*worker, "did not load transaction " + std::to_string(transaction) + ": " +
                                   (answer ? (answer.fields.size() > 2 ? answer.fields[2] : answer.fields[0])
                                           : answer.reason));
    }
}

void fleet::kill_draining(worker_process& worker, const std::string& why) {
    log_.warn("recycled worker slot=", worker.position, " pid=", worker.pid, " ", why,
              "; killing it (it would serve the table before)");
    worker.ended_by_master = ending::killed;
    ::kill(worker.pid, SIGKILL);
}

void fleet::drained(const worker_process& worker, const ended_child& ended) {
    bool clean = WIFEXITED(ended.status) && WEXITSTATUS(ended.status) == 0;
    if (clean)
        log_.info("recycled worker drained slot=", worker.position, " pid=", worker.pid, " ", ended.description);
    else
        log_.warn("recycled worker ended slot=", worker.position, " pid=", worker.pid, " ", ended.description);
    if (WIFSIGNALED(ended.status) && worker.ended_by_master != ending::killed && !stopping_)
        attribute_crash(worker, ended);  // a handler crashed it while it drained
    board_.reset_worker(worker.slot);
}

// Handler timeouts.

void fleet::note_ending(worker_process& worker, worker_end end) {
    worker.ends_as = std::move(end);
}

void fleet::retire(worker_process& worker, const retiring_notice& notice, bool alive) {
    if (worker.ended_by_master != ending::none || worker.pid <= 0) return;  // it ends anyway
    worker.phase = worker_phase::stopping;
    worker.ended_by_master = ending::retired;
    if (notice.reason == "max-rss") {
        note_ending(worker, {"recycled", "max-rss"});
        log_.info("worker retiring slot=", worker.slot, " pid=", worker.pid,
                  " reason=max-rss: past twice the limit after a request for ", notice.route,
                  "; it takes no new requests and exits once its requests are done");
        auto position = worker.position;
        if (alive && position < workers_.size() && &workers_[position] == &worker) {
            replace_gracefully(position, "max-rss", reading_of(worker, clock::now()));  // now, not once it drained
        }
        return;
    }
    note_ending(worker, {"timeout", notice.reason + " on route " + notice.route});
    log_.warn("worker retiring slot=", worker.slot, " pid=", worker.pid, " reason=", notice.reason,
              " route=", notice.route, ": replaced when it exits (killed if a handler still holds it at timeout + ",
              std::chrono::duration<double>(settings_.handler_timeout_grace).count(), "s)");
}

void fleet::read_last_words(worker_process& worker) {
    if (!worker.admin) return;
    while (true) {
        auto message = worker.admin->receive(0ms);
        if (!message) return;
        if (message.fields[0] != "retiring") continue;  // an admin request nobody is left to answer
        if (auto notice = decode_retiring(message.fields)) retire(worker, *notice, false);
    }
}

void fleet::check_handlers() {
    auto grace = static_cast<std::uint64_t>(std::chrono::nanoseconds(settings_.handler_timeout_grace).count());
    auto now = monotonic_nanoseconds();
    for (auto& worker : workers_) {
        if (worker.pid <= 0 || worker.phase == worker_phase::waiting || worker.killed_wedged) continue;
        unsigned in_handler = 0;
        unsigned past_timeout = 0;  // answered 504 (or cut) by the worker's watchdog, if it could run
        std::optional<thread_reading> wedged;
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t) {
            auto reading = board_.thread(worker.slot, t).read();
            if (reading.state != thread_state::in_handler || reading.route_slot >= scoreboard::max_routes) continue;
            ++in_handler;
            if (reading.timeout_ns == 0 || now < reading.started_monotonic_ns + reading.timeout_ns) continue;
            ++past_timeout;
            if (now >= reading.started_monotonic_ns + reading.timeout_ns + grace) wedged = reading;
        }
        if (!wedged) continue;
        auto route = std::find_if(routes_.begin(), routes_.end(), [&](const auto& r) { return r.slot == wedged->route_slot; });
        std::string pattern = route == routes_.end() ? "?" : route->spec.pattern;
        // A worker that said it retires had its watchdog answer the calls past their timeout; a
        // wedged one (no word from it) answered nothing.
        bool answered = worker.ends_as && worker.ends_as->reason == "timeout";
        unsigned lost = answered ? in_handler - past_timeout : in_handler;
        double elapsed = static_cast<double>(now - wedged->started_monotonic_ns) / 1e9;
        log_.error("worker killed slot=", worker.slot, " pid=", worker.pid, ": a handler of route=", pattern,
                   " still runs ", std::fixed, std::setprecision(2), elapsed, "s after it started (timeout ",
                   static_cast<double>(wedged->timeout_ns) / 1e9, "s + grace ",
                   std::chrono::duration<double>(settings_.handler_timeout_grace).count(), "s); requests lost=", lost,
                   answered ? " (still running within their timeouts)" : " (its watchdog answered none: wedged)");
        if (!answered) note_ending(worker, {"timeout", "timeout on route " + pattern + ", wedged"});
        if (worker.ends_as)
            worker.ends_as->detail += "; killed at timeout + grace, " + std::to_string(lost) + " request(s) lost";
        worker.ended_by_master = ending::retired;
        worker.phase = worker_phase::stopping;
        worker.killed_wedged = true;
        ::kill(worker.pid, SIGKILL);
    }
}

std::optional<fleet::clock::time_point> fleet::next_handler_check() const {
    if (stopping_) return std::nullopt;
    auto grace = std::chrono::duration_cast<clock::duration>(settings_.handler_timeout_grace);
    std::optional<clock::duration> shortest;  // of a call that starts now
    for (const auto& route : routes_)
        if (route.spec.handler_timeout.count() > 0 && (!shortest || route.spec.handler_timeout < *shortest))
            shortest = route.spec.handler_timeout;
    if (!shortest) return std::nullopt;
    auto next = clock::now() + *shortest + grace;
    for (const auto& worker : workers_) {
        if (worker.pid <= 0 || worker.phase == worker_phase::waiting || worker.killed_wedged) continue;
        for (unsigned t = 0; t < board_.threads_per_worker(); ++t) {
            auto reading = board_.thread(worker.slot, t).read();
            if (reading.state != thread_state::in_handler || reading.timeout_ns == 0) continue;
            // steady_clock is CLOCK_MONOTONIC, which the workers write.
            auto due = clock::time_point(std::chrono::nanoseconds(reading.started_monotonic_ns + reading.timeout_ns)) + grace;
            next = std::min(next, due);
        }
    }
    return next;
}

}  // namespace replug
