// replugd: wires the pieces together and decides exit codes.
//   0  clean stop (SIGTERM/SIGINT), or --check found every route loadable
//   1  runtime failure (a route's module cannot be loaded at start, a socket)
//   2  configuration error (bad option, unreadable config file, bad route)
#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "admin.hpp"
#include "config.hpp"
#include "dispatcher.hpp"
#include "listener.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "reloader.hpp"
#include "server.hpp"
#include "signals.hpp"
#include "watcher.hpp"

namespace {

constexpr int exit_runtime = 1;
constexpr int exit_config = 2;

int fail(int code, const std::string& why) {
    std::fprintf(stderr, "replugd: %s\n", why.c_str());
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

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto parsed = replug::parse_config(args);
    if (!parsed) return fail(exit_config, parsed.reason());
    replug::config settings = std::move(*parsed);
    if (settings.help) {
        std::cout << replug::usage();
        return 0;
    }
    if (settings.version) {
        std::cout << "replugd " << REPLUG_BUILD_VERSION << " (module ABI " << REPLUG_ABI_VERSION << ")\n";
        return 0;
    }

    replug::logger log(settings.level);
    replug::loader modules(log);
    replug::registry routes(modules, log);
    if (settings.check) return check_routes(settings, routes);

    replug::block_signals();  // before any thread starts

    std::string token;
    if (settings.admin_token_file) {
        auto read = replug::read_token_file(settings.admin_token_file->string());
        if (!read) return fail(exit_config, read.reason());
        token = std::move(*read);
    }

    std::optional<replug::listener> socket;
    if (!settings.listen.empty()) {
        auto opened = replug::open_listener(
            settings.listen, {settings.listen_mode, settings.listen_owner, settings.listen_group});
        if (!opened)
            return fail(opened.kind() == replug::failure_kind::bad_input ? exit_config : exit_runtime, opened.reason());
        socket = std::move(*opened);
    } else {
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

    auto started = routes.apply(settings.routes, settings.module_path);
    if (!started) {
        for (auto* each : {&socket, &admin_socket})
            if (*each && (*each)->unix_path) ::unlink((*each)->unix_path->c_str());
        return fail(exit_runtime, started.reason());
    }
    if (settings.routes.empty()) log.warn("no --route given: every request will get 404");

    pid_file pid(settings.pid_file);
    if (!pid.write()) return fail(exit_runtime, "--pid-file " + settings.pid_file->string() + ": cannot write");

    replug::reloader reloads(args, settings, routes, log);
    std::optional<replug::watcher> watch;
    if (settings.watch) {
        watch.emplace(routes, log);
        reloads.after_apply([&watch] { watch->refresh(); });
    }

    std::optional<replug::server> workers;  // the admin reads its busy count, once it serves
    std::optional<replug::admin> admin;
    replug::dispatcher everything(&routes, log);
    replug::dispatcher admin_only(nullptr, log);
    if (!token.empty()) {
        admin.emplace(settings.admin_prefix, token, routes, reloads,
                      replug::server_facts{REPLUG_BUILD_VERSION, ::getpid(), settings.threads,
                                           std::chrono::system_clock::now(), [&workers] { return workers->busy(); }},
                      log);
        for (auto* each : {&everything, &admin_only})
            each->mount(admin->prefix(), [&admin](replug::fcgi_request& call) { admin->handle(call, call); });
    }

    FCGX_Init();
    std::string where = socket->description;
    workers.emplace(std::move(*socket), settings.threads,
                    [&everything](replug::fcgi_request& call) { everything.serve(call); }, log);
    workers->start();
    std::optional<replug::server> control;
    if (admin_socket) {
        log.info("admin endpoints also on ", admin_socket->description);
        control.emplace(std::move(*admin_socket), 1,
                        [&admin_only](replug::fcgi_request& call) { admin_only.serve(call); }, log);
        control->start();
    }
    log.info("replugd ", REPLUG_BUILD_VERSION, " serving on ", where, " threads=", settings.threads,
             " routes=", settings.routes.size(), " admin=", admin ? settings.admin_prefix : "off",
             " watch=", watch ? "on" : "off",
             " pid=", ::getpid());

    int stop_signal = replug::wait_for_signals([&] {
        log.info("SIGHUP: re-reading config and reloading every route");
        auto swaps = reloads.reload_everything();
        if (!swaps) log.error("SIGHUP reload refused, the old route table stays: ", swaps.reason());
    });

    log.info(stop_signal == SIGINT ? "SIGINT" : "SIGTERM", ": stopping; draining requests for up to ",
             settings.drain_timeout.count(), "ms");
    int left = control ? control->stop(settings.drain_timeout) : 0;
    left += workers->stop(settings.drain_timeout);
    pid.remove();
    if (left > 0) {
        log.warn(left, " request(s) still running after the drain timeout; exiting anyway");
        std::fflush(nullptr);
        ::_exit(0);
    }
    log.info("stopped");
    return 0;
}
