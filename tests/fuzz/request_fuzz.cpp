// libFuzzer harness: arbitrary bytes as one FastCGI connection to the
// request path — record parsing (libfcgi), the head check, routing, params,
// headers, body, the admin endpoints, a real module's handler, and the
// decoding of arguments, forms, uploads and cookies (forms.so).
//
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
//   build-fuzz/tests/fuzz/request_fuzz -max_total_time=60 NEW_CORPUS_DIR tests/fuzz/corpus
//
// REPLUG_FUZZ_MODULES names the directory with echo.so and forms.so (meson's test sets it).
#include <fcgiapp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "admin.hpp"
#include "dispatcher.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "reloader.hpp"
#include "request_head.hpp"
#include "server.hpp"
#include "write_all.hpp"

namespace {

constexpr const char* token = "fuzz-token-0123456789abcdef";

struct world {
    replug::logger log{replug::log_level::error};
    replug::loader modules{log};
    replug::registry routes{modules, log};
    std::optional<replug::reloader> reloads;
    std::optional<replug::admin> admin;
    replug::dispatcher requests{&routes, log, 4096};  // a small --max-body, within the fuzzer's inputs
    replug::request_handler handler = [this](replug::fcgi_request& call) { requests.serve(call); };
};

world* the_world = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* directory = std::getenv("REPLUG_FUZZ_MODULES");
    if (!directory) {
        std::fprintf(stderr, "request_fuzz: set REPLUG_FUZZ_MODULES to the directory with echo.so\n");
        std::exit(2);
    }
    FCGX_Init();
    the_world = new world;
    auto& w = *the_world;
    // The configuration a POST reload re-reads: the same routes.
    std::vector<std::string> args{"--module-path", directory, "--route", "/echo/*=echo", "--route",
                                  "/status=echo:status", "--route", "/forms=forms", "--route",
                                  "/swallows=forms:swallows", "--route", "/refuses=forms:refuses"};
    auto settings = replug::parse_config(args);
    auto routes = settings ? w.routes.apply(settings->routes, settings->module_path)
                           : replug::outcome<std::vector<replug::swap_report>>(settings.error());
    if (!routes) {
        std::fprintf(stderr, "request_fuzz: %s\n", routes.reason().c_str());
        std::exit(2);
    }
    w.reloads.emplace(args, *settings, w.routes, w.log);
    w.admin.emplace("/-/", token, w.routes, *w.reloads, replug::server_facts{"fuzz", 0, 1, {}, [] { return 0; }, 0, {}},
                    w.log);
    w.requests.mount(w.admin->prefix(), [&w](replug::fcgi_request& call) { w.admin->handle(call, call); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
    // The peer sends the whole input first (it fits the socket buffer: the
    // runner caps inputs at 64 KiB), so that the head check sees what a
    // connection that had sent all of it would show; then it reads whatever
    // comes back.
    replug::write_all(pair[1], std::string_view(reinterpret_cast<const char*>(data), size));
    ::shutdown(pair[1], SHUT_WR);
    std::thread peer([&] {
        char sink[65536];
        while (::read(pair[1], sink, sizeof sink) > 0) {
        }
    });
    // As the epoll loop does: a rejected head is closed unserved.
    auto head = replug::peek_request_head(pair[0], true);
    if (head == replug::head_state::rejected || head == replug::head_state::closed) {
        ::close(pair[0]);
    } else {
        while (replug::serve_once(pair[0], the_world->handler, the_world->log)) {
        }
    }
    peer.join();
    ::close(pair[1]);
    return 0;
}
