// libFuzzer harness: arbitrary bytes as one FastCGI connection to the
// request path — record parsing (libfcgi), the head check, routing, params,
// headers, body, the admin endpoints and a real module's handler.
//
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
//   build-fuzz/tests/fuzz/request_fuzz -max_total_time=60 NEW_CORPUS_DIR tests/fuzz/corpus
//
// REPLUG_FUZZ_MODULES names the directory with echo.so (meson's test sets it).
#include <fcgiapp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "admin.hpp"
#include "listener.hpp"
#include "loader.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "request_head.hpp"
#include "server.hpp"
#include "write_all.hpp"

namespace {

constexpr const char* token = "fuzz-token-0123456789abcdef";

struct world {
    replug::logger log{replug::log_level::error};
    replug::loader modules{log};
    replug::registry routes{modules, log};
    std::optional<replug::admin> admin;
    std::optional<replug::server> server;
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
    auto routes = w.routes.apply({{"/echo/*", "echo", "serve"}, {"/status", "echo", "status"}}, {directory});
    if (!routes) {
        std::fprintf(stderr, "request_fuzz: %s\n", routes.reason().c_str());
        std::exit(2);
    }
    w.admin.emplace("/-/", token, w.routes, [] { return replug::outcome<std::vector<replug::swap_report>>(std::vector<replug::swap_report>{}); },
                    replug::server_facts{"fuzz", 0, 1, {}, [] { return 0; }}, w.log);
    // The server needs a listening socket; the fuzzer never connects to it.
    std::string path = "/tmp/replug-fuzz-" + std::to_string(::getpid()) + ".sock";
    auto socket = replug::open_listener("unix:" + path, {0600, "", ""});
    if (!socket) std::exit(2);
    ::unlink(path.c_str());
    w.server.emplace(std::move(*socket), 1, w.routes, "/-/",
                     [&w](replug::fcgi_request& call) { w.admin->handle(call); }, w.log);
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
        while (the_world->server->serve_once(pair[0])) {
        }
    }
    peer.join();
    ::close(pair[1]);
    return 0;
}
