// replugd: wires the pieces together and decides exit codes.
//   0  clean stop (SIGTERM/SIGINT), or --check found every route loadable
//   1  runtime failure (a route's module cannot be loaded at start, a socket)
//   2  configuration error (bad option, unreadable config file, bad route)
#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "admin.hpp"
#include "config.hpp"
#include "dev_mode.hpp"
#include "descriptor.hpp"
#include "dispatcher.hpp"
#include "listener.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "reloader.hpp"
#include "server.hpp"
#include "signals.hpp"
#include "fleet.hpp"
#include "master.hpp"
#include "probes.hpp"
#include "process.hpp"
#include "scoreboard.hpp"
#include "watchdog.hpp"
#include "watcher.hpp"
#include "worker.hpp"
#include "worker_messages.hpp"

namespace {

constexpr int exit_runtime = 1;
constexpr int exit_config = 2;

int fail(int code, const std::string& why) {
    std::fprintf(stderr, "%sreplugd: %s\n", replug::is_journal_stream(STDERR_FILENO) ? "<3>" : "", why.c_str());
    return code;
}

int check_routes(const replug::config& settings, replug::registry& routes) {
    auto swaps = routes.apply(settings.routes, settings.module_path);
    if (!swaps) return fail(exit_runtime, swaps.reason());
    for (const auto& swap : *swaps)
        std::printf("ok route=%s module=%s file=%s version=%s\n", swap.pattern.c_str(), swap.module.c_str(),
                    swap.file.c_str(), swap.new_version.c_str());
    std::printf("%zu route(s) load\n", swaps->size());
    return 0;
}

// Finds the SDK and the compiler, makes the build directory and compiles
// every module of --dev DIR. bad_input: the compiler or the SDK is missing.
replug::outcome<std::unique_ptr<replug::dev_mode>> start_dev_mode(const replug::config& settings,
                                                                  replug::logger& log) {
    std::error_code error;
    const auto& dir = *settings.dev;
    if (!std::filesystem::exists(dir, error))
        return replug::failure{"--dev " + dir.string() + ": no such directory", replug::failure_kind::bad_input};
    if (!std::filesystem::is_directory(dir, error))
        return replug::failure{"--dev " + dir.string() + ": not a directory", replug::failure_kind::bad_input};
    auto include = replug::find_sdk_include("/proc/self/exe");
    if (!include) return include.error();
    auto compiler = replug::find_compiler(std::getenv("CXX"), std::getenv("CXXFLAGS"), std::getenv("PATH"), *include);
    if (!compiler) return compiler.error();
    auto command = replug::shell_words(replug::compile_command(*compiler, {}, {}, "-"));
    command.resize(command.size() - 5);  // " -o -": what a module's compile adds is shown below
    replug::dev_settings dev_settings{*settings.dev, std::move(*compiler), std::max(1u, replug::available_cpus()),
                                      std::chrono::milliseconds(50)};
    try {
        auto dev = std::make_unique<replug::dev_mode>(std::move(dev_settings), log);
        log.info("dev: compiling the modules of ", settings.dev->string(), " into ", dev->build_dir().string(),
                 " with ", command, " SOURCES [NAME.flags words] -o NAME.so");
        dev->build_all();
        return dev;
    } catch (const std::exception& error) {
        return replug::failure{error.what()};
    }
}

class pid_file {
public:
    explicit pid_file(std::optional<std::filesystem::path> path) : path_(std::move(path)) {}
    bool write() {
        if (!path_) return true;
        std::ofstream out(*path_);
        out << ::getpid() << '\n';
        return static_cast<bool>(out.flush());
    }
    void remove() {
        if (path_) ::unlink(path_->c_str());
    }

private:
    std::optional<std::filesystem::path> path_;
};


// How replugd serves: one process (--workers 0), or a master and its
// workers. Both answer route_control, which admin, the reloader and watch
// mode use alike.
class serving_mode {
public:
    virtual ~serving_mode() = default;
    virtual replug::route_control& routes() = 0;
    // Loads the routes, ready to serve on SOCKET (worker processes may
    // start serving at once: admin requests wait for serve()).
    virtual replug::outcome<std::vector<replug::swap_report>> start(const replug::config& settings,
                                                                    replug::listener& socket) = 0;
    virtual void mount_admin(replug::admin& endpoints) = 0;
    virtual replug::server_facts facts(const replug::config& settings) = 0;
    // Serves until SIGTERM or SIGINT, and returns that signal; with UNTIL,
    // at the latest until then, and returns 0 (the shutdown delay).
    virtual int serve(replug::reloader& reloads, replug::admin* endpoints,
                      std::optional<std::chrono::steady_clock::time_point> until = {}) = 0;
    // Nonzero from SIGTERM or SIGINT on: what the ready probe reads.
    virtual std::atomic<std::uint32_t>& stopping() = 0;
    // Drains; returns the requests still running when DRAIN ran out.
    virtual int stop(std::chrono::milliseconds drain) = 0;
};

class single_process final : public serving_mode {
public:
    single_process(replug::logger& log, std::uint64_t max_body)
        : log_(log), modules_(log), registry_(modules_, log), requests_(&registry_, log_, max_body) {}

    replug::route_control& routes() override { return registry_; }
    replug::outcome<std::vector<replug::swap_report>> start(const replug::config& settings,
                                                            replug::listener& socket) override {
        auto started = registry_.apply(settings.routes, settings.module_path);
        if (!started) return started;
        registry_.set_limits({settings.recycle, settings.max_in_flight});
        FCGX_Init();
        // No worker to retire here: a timed-out handler is answered 504, and its thread stays stuck.
        watchdog_.emplace(settings.threads, log_);
        server_.emplace(
            std::move(socket), settings.threads, [this](replug::fcgi_request& call) { requests_.serve(call); }, log_,
            [this](unsigned index, const std::function<void()>& body) {
                replug::watchdog::thread_scope watched(*watchdog_, index);
                body();
            });
        probes_.emplace(settings.admin_prefix, stopping_);
        probes_->mount(requests_);
        return started;  // serving starts in serve(), once the admin endpoints are mounted
    }
    void mount_admin(replug::admin& endpoints) override {
        requests_.mount(endpoints.prefix(), [&endpoints](replug::fcgi_request& call) { endpoints.handle(call, call); });
    }
    replug::server_facts facts(const replug::config& settings) override {
        return {REPLUG_BUILD_VERSION, ::getpid(), settings.threads, std::chrono::system_clock::now(),
                [this] { return server_ ? server_->busy() : 0; }, 0, {}};
    }
    int serve(replug::reloader& reloads, replug::admin*,
              std::optional<std::chrono::steady_clock::time_point> until) override {
        if (!serving_) server_->start();
        serving_ = true;
        return replug::wait_for_signals(
            [&] {
                log_.info("SIGHUP: re-reading config and reloading every route");
                auto swaps = reloads.reload_everything();
                if (!swaps) log_.error("SIGHUP reload refused, the old route table stays: ", swaps.reason());
            },
            until);
    }
    std::atomic<std::uint32_t>& stopping() override { return stopping_; }
    int stop(std::chrono::milliseconds drain) override {
        return server_ ? server_->stop(drain, [this] { return watchdog_->taken_over(); }) : 0;
    }

private:
    replug::logger& log_;
    std::optional<replug::watchdog> watchdog_;  // outlives the server's threads
    replug::loader modules_;
    replug::registry registry_;
    std::atomic<std::uint32_t> stopping_{0};
    std::optional<replug::probes> probes_;  // mounted in requests_, which the server's threads use
    replug::dispatcher requests_;
    std::optional<replug::server> server_;
    bool serving_ = false;
};

class master_process final : public serving_mode {
public:
    master_process(replug::logger& log, replug::scoreboard board) : log_(log), sealer_(log), board_(std::move(board)) {}

    replug::route_control& routes() override { return *fleet_; }
    replug::outcome<std::vector<replug::swap_report>> start(const replug::config& settings,
                                                            replug::listener& socket) override {
        socket_ = std::move(socket);
        replug::fleet_settings fleet_settings{"/proc/self/exe", settings.workers,
                                              {0, settings.threads, settings.level, settings.drain_timeout,
                                               settings.admin_token_file ? settings.admin_prefix : "",
                                               settings.admin_prefix, settings.max_body},
                                              settings.auto_rollback,
                                              {settings.recycle, settings.max_in_flight},
                                              settings.handler_timeout_grace};
        fleet_.emplace(std::move(fleet_settings), socket_.fd.get(), sealer_, board_, log_);
        return fleet_->start(settings.routes, settings.module_path);
    }
    void mount_admin(replug::admin&) override {}  // workers forward admin requests to serve()
    replug::server_facts facts(const replug::config& settings) override {
        return {REPLUG_BUILD_VERSION,
                ::getpid(),
                settings.threads,
                std::chrono::system_clock::now(),
                [this] { return fleet_->busy(); },
                settings.workers,
                [this] { return fleet_->workers(); }};
    }
    int serve(replug::reloader& reloads, replug::admin* endpoints,
              std::optional<std::chrono::steady_clock::time_point> until) override {
        return replug::run_master_loop(*fleet_, reloads, endpoints, log_, until);
    }
    std::atomic<std::uint32_t>& stopping() override { return board_.stopping(); }
    int stop(std::chrono::milliseconds drain) override {
        int killed = fleet_->stop(drain);
        // The socket is the master's: only now, with every worker gone, is it shut and removed.
        if (socket_.unix_path) ::unlink(socket_.unix_path->c_str());
        return killed;
    }

private:
    replug::logger& log_;
    replug::loader sealer_;  // seals module files; never loads one in this process
    replug::scoreboard board_;
    replug::listener socket_;
    std::optional<replug::fleet> fleet_;
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 2 && args[0] == "--worker") {  // started by a master, never by hand
        auto slot = replug::parse_decimal(args[1]);
        if (!slot) return fail(exit_config, "--worker: a slot number");
        return replug::run_worker(static_cast<unsigned>(*slot));
    }
    auto parsed = replug::parse_config(args);
    if (!parsed) return fail(exit_config, parsed.reason());
    replug::config settings = std::move(*parsed);
    if (settings.help) {
        std::cout << replug::usage();
        return 0;
    }
    if (settings.version) {
        std::cout << "replugd " << REPLUG_BUILD_VERSION << " (module ABI " << REPLUG_ABI_VERSION << ", "
                  << replug::standard_library_name(replug::server_standard_library) << ")\n";
        return 0;
    }

    replug::logger log(settings.level);
    if (settings.check) {
        replug::loader modules(log);
        replug::registry routes(modules, log);
        return check_routes(settings, routes);
    }
    replug::raise_descriptor_limit(log);

    replug::block_signals();  // before any thread starts

    std::string token;
    if (settings.admin_token_file) {
        auto read = replug::read_token_file(settings.admin_token_file->string());
        if (!read) return fail(exit_config, read.reason());
        token = std::move(*read);
    }

    std::optional<replug::listener> socket;
    if (settings.listen.empty() && settings.dev) {
        socket = replug::inherited_listener();
        if (!socket) settings.listen = replug::dev_default_listen;
    }
    if (!settings.listen.empty()) {
        auto opened = replug::open_listener(
            settings.listen, {settings.listen_mode, settings.listen_owner, settings.listen_group});
        if (!opened)
            return fail(opened.kind() == replug::failure_kind::bad_input ? exit_config : exit_runtime, opened.reason());
        socket = std::move(*opened);
    } else if (!socket) {
        socket = replug::inherited_listener();
        if (!socket)
            return fail(exit_config, "--listen: not given, and no inherited socket (fd 0 or systemd LISTEN_FDS)");
    }

    std::optional<replug::listener> admin_socket;
    if (!settings.admin_listen.empty()) {
        auto opened = replug::open_listener(settings.admin_listen, {0600, "", ""});
        if (!opened) {
            if (socket->unix_path) ::unlink(socket->unix_path->c_str());
            return fail(opened.kind() == replug::failure_kind::bad_input ? exit_config : exit_runtime,
                        "--admin-listen: " + opened.reason());
        }
        admin_socket = std::move(*opened);
    }
    // Their files, to remove when replugd cannot start after all.
    std::vector<std::filesystem::path> socket_files;
    for (auto* each : {&socket, &admin_socket})
        if (*each && (*each)->unix_path) socket_files.push_back(*(*each)->unix_path);
    auto remove_sockets = [&] {
        for (const auto& file : socket_files) ::unlink(file.c_str());
    };

    // Dev mode compiles every module before anything serves, and sets the
    // environment its stand-in module reads before any worker starts.
    std::unique_ptr<replug::dev_mode> dev;
    if (settings.dev) {
        auto started = start_dev_mode(settings, log);
        if (!started) {
            remove_sockets();
            return fail(started.kind() == replug::failure_kind::bad_input ? exit_config : exit_runtime,
                        started.reason());
        }
        dev = std::move(*started);
        if (!settings.listen.empty() && !replug::loopback_address(settings.listen))
            log.warn("dev: --listen ", settings.listen, " is not a loopback address: anyone who reaches it sees "
                     "your experiments and their compiler errors; dev mode is a development tool");
    }
    replug::config table = settings;  // what the first table applies: the configuration's routes and dev's
    if (dev) dev->add_routes(table.routes, table.module_path);

    std::unique_ptr<serving_mode> mode;
    if (settings.workers == 0) {
        mode = std::make_unique<single_process>(log, settings.max_body);
    } else {
        // As many spare slots as workers: a recycled worker drains in its slot while its replacement serves.
        auto board = replug::scoreboard::create(settings.workers * 2, settings.threads);
        if (!board) {
            remove_sockets();
            return fail(exit_runtime, "scoreboard: " + board.reason());
        }
        mode = std::make_unique<master_process>(log, std::move(*board));
    }
    pid_file pid(settings.pid_file);  // before any worker exists: nothing to stop when it cannot be written
    if (!pid.write()) {
        remove_sockets();
        return fail(exit_runtime, "--pid-file " + settings.pid_file->string() + ": cannot write");
    }
    std::string where = socket->description;
    auto started = mode->start(table, *socket);
    if (!started) {
        pid.remove();
        remove_sockets();
        return fail(exit_runtime, started.reason());
    }
    if (table.routes.empty() && !dev) log.warn("no --route given: every request will get 404");
    if (settings.workers == 0 && settings.recycle.any())
        log.warn("--max-requests, --max-rss and --max-lifetime recycle worker processes: with --workers 0 they do nothing");

    auto& routes = mode->routes();
    replug::reloader reloads(args, settings, routes, log);
    if (dev) {
        reloads.extra_routes([&dev](auto& more, auto& search_path) { dev->add_routes(more, search_path); });
        dev->start(routes, [&reloads] { return reloads.apply_again(); });
    }
    std::optional<replug::watcher> watch;
    if (settings.watch) {
        watch.emplace(routes, log);
        reloads.after_apply([&watch] { watch->refresh(); });
    }

    std::optional<replug::admin> admin;
    replug::dispatcher admin_only(nullptr, log);
    if (!token.empty()) {
        admin.emplace(settings.admin_prefix, token, routes, reloads, mode->facts(settings), log);
        mode->mount_admin(*admin);
        admin_only.mount(admin->prefix(), [&admin](replug::fcgi_request& call) { admin->handle(call, call); });
    }
    replug::probes control_probes(settings.admin_prefix, mode->stopping());
    control_probes.mount(admin_only);
    std::optional<replug::server> control;
    if (admin_socket) {
        log.info("admin endpoints also on ", admin_socket->description);
        FCGX_Init();
        control.emplace(std::move(*admin_socket), 1,
                        [&admin_only](replug::fcgi_request& call) { admin_only.serve(call); }, log);
        control->start();
    }
    log.info("replugd ", REPLUG_BUILD_VERSION, " serving on ", where, " threads=", settings.threads,
             settings.workers ? " per worker" : "", " workers=", settings.workers,
             " routes=", table.routes.size(), " admin=", admin ? settings.admin_prefix : "off",
             " watch=", watch ? "on" : "off", " dev=", dev ? settings.dev->string() : "off", " pid=", ::getpid());

    int stop_signal = mode->serve(reloads, admin ? &*admin : nullptr);
    mode->stopping().store(1, std::memory_order_release);  // ready answers 503 from now on
    if (stop_signal == SIGTERM && settings.shutdown_delay.count() > 0) {
        log.info("SIGTERM: not ready from now on; serving on for ", settings.shutdown_delay.count(),
                 "ms (--shutdown-delay) before draining");
        int again = mode->serve(reloads, admin ? &*admin : nullptr,
                                std::chrono::steady_clock::now() + settings.shutdown_delay);
        if (again < 0) stop_signal = again;
        if (again > 0) log.info(again == SIGINT ? "SIGINT" : "SIGTERM", " again: the shutdown delay is cut short");
    }

    log.info(stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : "an internal failure",
             ": stopping; draining requests for up to ", settings.drain_timeout.count(), "ms");
    int left = control ? control->stop(settings.drain_timeout) : 0;
    watch.reset();
    dev.reset();
    left += mode->stop(settings.drain_timeout);
    pid.remove();
    if (left > 0) {
        log.warn(left, " request(s) still running after the drain timeout; exiting anyway");
        std::fflush(nullptr);
        ::_exit(0);
    }
    log.info("stopped");
    return stop_signal < 0 ? exit_runtime : 0;
}
