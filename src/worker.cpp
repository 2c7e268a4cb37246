#include "worker.hpp"

#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "channel.hpp"
#include "dispatcher.hpp"
#include "last_gasp.hpp"
#include "listener.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "probes.hpp"
#include "process.hpp"
#include "registry.hpp"
#include "scoreboard.hpp"
#include "server.hpp"
#include "signals.hpp"
#include "watchdog.hpp"
#include "worker_messages.hpp"

namespace replug {

namespace {

using namespace std::chrono_literals;

constexpr int listen_fd = 3;
constexpr int control_fd = 4;
constexpr int admin_fd = 5;
constexpr int board_fd = 6;

// How long a forwarded admin request may wait for the master (a reload
// waits for every worker to load).
constexpr auto admin_timeout = 120s;

int fail(const std::string& why) {
    std::fprintf(stderr, "%sreplugd worker: %s\n", is_journal_stream(STDERR_FILENO) ? "<3>" : "", why.c_str());
    return 1;
}

// The master's side of the conversation on the control channel, as this
// worker answers it.
class control_session {
public:
    control_session(const channel& control, registry& routes, const logger& log)
        : control_(control), routes_(routes), log_(log) {}

    // Answers one message. False when the master is gone.
    bool answer_next(std::chrono::milliseconds timeout) {
        auto message = control_.receive(timeout);
        if (message.status == channel_status::peer_closed) return false;
        if (!message) {  // timed out (nothing to do), or a message broke a limit: the master hears no answer and says so
            if (message.status != channel_status::timed_out) log_.error("worker: ", message.reason);
            return true;
        }
        const auto& name = message.fields[0];
        if (name == "load")
            load(message);
        else if (name == "commit")
            commit(message.fields);
        else if (name == "abort") {
            staged_.reset();
            reply({"aborted", message.fields.size() > 1 ? message.fields[1] : ""});
        } else
            log_.warn("worker: unknown control message '", printable(name), "'");
        return true;
    }

    bool committed_once() const { return committed_; }

private:
    void reply(const fields& message) { control_.send(message, {}, 5s); }

    void load(received& message) {
        auto table = decode_load(message.fields);
        if (!table || message.fds.size() != table->second.size()) {
            reply({"refused", message.fields.size() > 1 ? message.fields[1] : "", "malformed load message"});
            return;
        }
        auto transaction = decode_transaction(message.fields);
        std::vector<route_install> install;
        for (std::size_t i = 0; i < table->second.size(); ++i) {
            auto& route = table->second[i];
            sealed_module module{std::move(message.fds[i]), route.file, static_cast<ino_t>(route.inode),
                                 static_cast<off_t>(route.size), route.sha256};
            install.push_back({route.spec, route.generation, std::move(module), route.slot, route.unavailable_until});
        }
        auto staged = routes_.stage(std::move(install));
        if (!staged) {
            staged_.reset();
            reply({"refused", transaction, staged.reason()});
            return;
        }
        std::vector<prepared_route> loaded;
        for (std::size_t i = 0; i < staged->size(); ++i)  // a version held already took no time to load
            loaded.push_back({staged->version(i).version(),
                              staged->reused(i) ? 0.0 : staged->version(i).load_milliseconds()});
        staged_ = std::move(*staged);
        staged_transaction_ = transaction;
        reply(encode_prepared(table->first, loaded));
    }

    void commit(const fields& message) {
        std::string transaction = message.size() > 1 ? message[1] : "";
        if (!staged_ || transaction != staged_transaction_) {
            reply({"refused", transaction, "nothing staged for transaction " + transaction});
            return;
        }
        auto done = routes_.commit(std::move(*staged_));
        staged_.reset();
        if (!done) {
            reply({"refused", transaction, done.reason()});
            return;
        }
        committed_ = true;
        reply({"committed", transaction});
    }

    static std::string decode_transaction(const fields& message) { return message.size() > 1 ? message[1] : ""; }

    const channel& control_;
    registry& routes_;
    const logger& log_;
    std::optional<staged_table> staged_;
    std::string staged_transaction_;
    bool committed_ = false;
};

// The admin endpoints, answered by the master: this worker forwards.
class admin_forwarder {
public:
    explicit admin_forwarder(const channel& admin) : admin_(admin) {}

    void serve(fcgi_request& call) {
        auto* busy = this_thread_slot();  // busy, as status counts threads, in no route
        if (busy) busy->begin(scoreboard::max_routes, 0);
        struct done_at_exit {
            thread_slot* slot;
            ~done_at_exit() {
                if (slot) slot->end();
            }
        } done{busy};
        std::lock_guard one_at_a_time(mutex_);  // one conversation on the channel at a time
        admin_call forwarded{++calls_, std::string(call.method()), std::string(call.path()), std::string(call.query()),
                             std::string(call.header("Authorization")), std::string(call.param("REMOTE_ADDR"))};
        auto deadline = channel::clock::now() + admin_timeout;
        auto sent = admin_.send(encode_admin_call(forwarded), {}, 5s);
        outcome<admin_answer> decoded = failure{sent.reason};
        while (sent) {  // an answer to an earlier call, which gave up waiting, is dropped
            auto answer = admin_.receive(deadline);
            decoded = answer ? decode_admin_answer(answer.fields) : outcome<admin_answer>(failure{answer.reason});
            if (!answer || !decoded || decoded->id == forwarded.id) break;
        }
        if (!decoded) return call.fail(503, "Service Unavailable: the master did not answer");
        call.status(decoded->status);
        for (const auto& [name, value] : decoded->headers) call.header(name, value);
        call.write(decoded->body);
    }

private:
    const channel& admin_;
    std::mutex mutex_;
    std::uint64_t calls_ = 0;  // under mutex_
};

}  // namespace

int run_worker(unsigned slot) {
    block_signals();
    install_last_gasp();
    auto board = scoreboard::attach(board_fd);
    if (!board) return fail("scoreboard: " + board.reason());
    ::close(board_fd);
    channel control{unique_fd(control_fd)};
    channel admin{unique_fd(admin_fd)};

    auto start = control.receive(30s);
    if (!start) return fail("no start message from the master: " + start.reason);
    auto settings = decode_start(start.fields);
    if (!settings) return fail(settings.reason());
    if (settings->slot != slot || slot >= board->workers() || settings->threads > board->threads_per_worker())
        return fail("the start message does not fit this worker's slot or the scoreboard");

    logger log(settings->level);
    loader modules(log);
    auto& counters = *board;
    registry routes(
        modules, log,
        [&counters, slot](std::uint32_t route_slot) {
            return registry::route_places{&counters.counters(slot, route_slot), &counters.gate(route_slot)};
        },
        log_level::debug);  // the master logs each swap once, for every worker
    control_session session(control, routes, log);
    while (!session.committed_once())  // the first table, before serving anything
        if (!session.answer_next(30s)) return fail("the master went away before the first table");

    admin_forwarder forward(admin);
    dispatcher requests(&routes, log, settings->max_body);
    probes health(settings->probe_prefix, counters.stopping());  // answered here, never forwarded
    health.mount(requests);
    if (!settings->admin_prefix.empty())  // empty: admin is off, and its prefix is routed like any path
        requests.mount(settings->admin_prefix, [&forward](fcgi_request& call) { forward.serve(call); });

    // A handler past its timeout (the watchdog answered 504), or this worker
    // past twice --max-rss after a request: it takes no new requests, tells
    // the master, and exits once its other requests are done. The master
    // replaces it: past --max-rss at once; after a timeout when it exits
    // (and kills it at timeout + grace if the stuck thread keeps it).
    // (Past --max-rss itself the master recycles it gracefully: it serves
    // until its replacement does. Twice the limit is for a leak faster than
    // a replacement starts: memory is then worth more than a worker's share
    // of the requests, which wait in the listen backlog meanwhile.)
    std::atomic<bool> retiring{false};
    server* serving = nullptr;  // set before its threads start
    auto retire = [&](std::string_view reason, const std::string& route) {
        if (retiring.exchange(true)) return;
        serving->stop_accepting();  // now, not once the main thread has the signal
        counters.worker(slot).state.store(worker_state::draining, std::memory_order_release);
        if (auto told = admin.send(encode_retiring({std::string(reason), route}), {}, 5s); !told)
            log.error("worker slot=", slot, ": cannot tell the master it retires: ", told.reason);
        log.debug("worker slot=", slot, " pid=", ::getpid(), ": retiring (", reason, ", ", route,
                  "); taking no new requests, exiting once the others are done");
        ::kill(::getpid(), SIGTERM);
    };
    watchdog watch(settings->threads, log, [&](const timeout_event& event) { retire("timeout", event.route); });
    resident_check memory;
    auto& max_rss = counters.max_rss_bytes();

    FCGX_Init();
    listener socket{unique_fd(listen_fd), "the master's socket (fd 3) in worker slot " + std::to_string(slot), std::nullopt, true};
    server workers(
        std::move(socket), settings->threads,
        [&, &served = counters.worker(slot).requests](fcgi_request& call) {
            served.fetch_add(1, std::memory_order_relaxed);
            requests.serve(call);
            // Checked after the request: a worker that leaks stops at twice its limit plus what
            // its requests in flight add, however long its replacement takes to start.
            if (memory.over(2 * max_rss.load(std::memory_order_relaxed)))
                retire("max-rss", std::string(call.path()));
        },
        log,
        [&counters, &watch, slot](unsigned index, const std::function<void()>& body) {
            auto& thread = counters.thread(slot, index);
            last_gasp_thread gasp(&thread);
            watchdog::thread_scope watched(watch, index);
            body();
        });
    serving = &workers;
    workers.start();
    // Serving, unless a request has already made it retire (then it stays draining).
    auto starting = worker_state::starting;
    counters.worker(slot).state.compare_exchange_strong(starting, worker_state::serving, std::memory_order_acq_rel);

    // Later tables, until the master goes (then this worker stops too).
    std::thread listening([&] {
        while (session.answer_next(1h)) {
        }
        ::kill(::getpid(), SIGTERM);
    });

    wait_for_signals([] {});  // SIGHUP is the master's
    retiring.store(true);  // stopping anyway: no notice to a master that may no longer read
    counters.worker(slot).state.store(worker_state::draining, std::memory_order_release);
    // Requests the watchdog answered are not waited for: their handlers may never return.
    int left = workers.stop(settings->drain_timeout, [&watch] { return watch.taken_over(); });
    ::shutdown(control.fd(), SHUT_RDWR);  // ends the listening thread
    listening.join();
    if (left > 0) {
        int stuck = watch.taken_over();
        if (stuck >= left)
            log.warn("worker slot=", slot, ": exiting with ", stuck,
                     " handler(s) still stuck past their timeout (their requests were answered 504)");
        else
            log.warn("worker slot=", slot, ": ", left - stuck,
                     " request(s) still running after the drain timeout; exiting anyway");
        std::fflush(nullptr);
        ::_exit(0);
    }
    return 0;
}

}  // namespace replug
