// The last gasp of a worker: a child process serves one real FastCGI request
// (libfcgi reads it from a socket, as in the server), its handler crashes in
// each way a handler can, and the parent checks that the child died of
// exactly that signal, that the client got a complete FastCGI 500 for its
// request id (or nothing more, once the response had started), and that the
// scoreboard slot of the crashed thread says so.
//
// Every child is forked from this process while it has no other thread; the
// child then starts the thread that serves, as a worker does.
//
// Under AddressSanitizer (build-asan) this runs as it is: ASan installs its
// own SIGSEGV/SIGBUS/SIGFPE handlers at startup, and with its default
// handle_segv=1 a later sigaction replaces them, so the last gasp wins (with
// handle_segv=2 ASan would keep its own, and these cases would fail).
#define BOOST_TEST_MODULE last_gasp
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fcgi_request.hpp"
#include "last_gasp.hpp"
#include "log.hpp"
#include "scoreboard.hpp"
#include "server.hpp"
#include "test_support.hpp"

using replug::thread_state;
using replug::testing::fastcgi_record;
using replug::testing::name_value;
using replug::testing::record;

namespace {

constexpr int request_id = 7;  // not nginx's usual 1: the answer must carry the request's own id
constexpr std::uint32_t route_slot = 5;
constexpr std::uint64_t generation = 9;
constexpr unsigned worker_index = 0;
constexpr unsigned thread_index = 1;
const std::string crash_answer =
    "Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInternal Server Error\n";

// ---- FastCGI, as nginx sends it and as the parent reads the answer ----

// A POST of BODY to /crash with keep-alive, as request REQUEST_ID.
std::string fastcgi_request(std::string_view body) {
    std::string begin{0, static_cast<char>(FCGI_RESPONDER), static_cast<char>(FCGI_KEEP_CONN), 0, 0, 0, 0, 0};
    std::string params = name_value("REQUEST_METHOD", "POST") + name_value("SCRIPT_NAME", "/crash") +
                         name_value("REQUEST_URI", "/crash") +
                         name_value("CONTENT_LENGTH", std::to_string(body.size()));
    std::string bytes = record(FCGI_BEGIN_REQUEST, request_id, begin) + record(FCGI_PARAMS, request_id, params) +
                        record(FCGI_PARAMS, request_id, {});
    for (std::size_t at = 0; at < body.size(); at += 8192)
        bytes += record(FCGI_STDIN, request_id, body.substr(at, 8192));
    return bytes + record(FCGI_STDIN, request_id, {});
}

// BYTES as FastCGI records, each of version 1; a record cut short fails the test.
std::vector<fastcgi_record> records_of(std::string_view bytes) {
    auto records = replug::testing::records_of(bytes);
    for (const auto& each : records) BOOST_REQUIRE_EQUAL(each.version, FCGI_VERSION_1);
    return records;
}

// Exactly one complete answer to REQUEST_ID: STDOUT records carrying the 500,
// the empty STDOUT that ends the stream, END_REQUEST (appStatus 0,
// FCGI_REQUEST_COMPLETE), and nothing after it.
void check_crash_answer(const std::string& bytes) {
    auto records = records_of(bytes);
    BOOST_REQUIRE_MESSAGE(records.size() >= 3, "answer: " << replug::printable(bytes));
    std::string output;
    std::size_t at = 0;
    for (; at < records.size() && records[at].type == FCGI_STDOUT && !records[at].content.empty(); ++at)
        output += records[at].content;
    BOOST_TEST(output == crash_answer);
    BOOST_REQUIRE_EQUAL(records.size(), at + 2);
    BOOST_TEST(records[at].type == FCGI_STDOUT);
    BOOST_TEST(records[at].content.empty());
    BOOST_TEST(records[at + 1].type == FCGI_END_REQUEST);
    BOOST_TEST(records[at + 1].content == std::string({0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0}));
    for (const auto& each : records) BOOST_TEST(each.id == request_id);
}

// ---- the child: a worker with one serving thread ----

enum class crash_kind { null_write, abort, raise_sigfpe, trap, bus_error, stack_overflow, wait_for_kill };

// Never reached: the recursion has no end the compiler can see.
volatile std::size_t deepest = ~std::size_t{0};

std::size_t recurse(std::size_t depth) {
    volatile char frame[512];
    frame[0] = static_cast<char>(depth);
    if (depth == deepest) return 0;
    return recurse(depth + 1) + static_cast<std::size_t>(frame[0]);  // not a tail call
}

// UBSan would report the store first (and abort with halt_on_error): the
// crash is the point here.
__attribute__((no_sanitize("null"))) void write_through_null() {
    volatile int* volatile nowhere = nullptr;  // a plain store before _exit is dead: g++ drops it
    *nowhere = 1;
}

[[noreturn]] void crash(crash_kind how, int ready_fd) {
    switch (how) {
        case crash_kind::null_write: write_through_null(); break;
        case crash_kind::abort: std::abort();
        case crash_kind::raise_sigfpe: ::raise(SIGFPE); break;
        case crash_kind::trap: __builtin_trap();
        case crash_kind::bus_error: {
            // A shared mapping of a file that shrank under it: a real SIGBUS.
            int fd = ::memfd_create("bus", 0);
            auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
            if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(page)) != 0) ::_exit(30);
            void* mapped = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (mapped == MAP_FAILED || ::ftruncate(fd, 0) != 0) ::_exit(31);
            *static_cast<volatile char*>(mapped) = 1;
            break;
        }
        case crash_kind::stack_overflow: recurse(0); break;
        case crash_kind::wait_for_kill: {
            char ready = 'r';
            if (::write(ready_fd, &ready, 1) != 1) ::_exit(32);
            while (true) ::pause();
        }
    }
    ::_exit(33);  // it did not crash
}

struct child_plan {
    int connection = -1;
    int board_fd = -1;
    int ready_fd = -1;
    crash_kind how = crash_kind::null_write;
    bool in_request = true;       // false: crash between requests
    bool start_response = false;  // write more than libfcgi buffers before crashing
};

void* serve_and_crash(void* argument) {
    const auto& plan = *static_cast<const child_plan*>(argument);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    auto board = replug::scoreboard::attach(plan.board_fd);
    if (!board) ::_exit(20);
    auto& slot = board->thread(worker_index, thread_index);
    replug::last_gasp_thread gasp(&slot);
    if (!plan.in_request) {
        slot.begin(route_slot, generation);
        slot.end();
        crash(plan.how, plan.ready_fd);
    }
    replug::logger log(replug::log_level::error);
    replug::serve_once(
        plan.connection,
        [&](replug::fcgi_request& call) {
            slot.begin(route_slot, generation);
            replug::last_gasp_request current(call);
            if (plan.start_response) call.write(std::string(20000, 'x'));
            crash(plan.how, plan.ready_fd);
        },
        log);
    ::_exit(21);  // the request never reached the handler
}

int run_child(const child_plan& plan, int stderr_fd) {
    ::dup2(stderr_fd, STDERR_FILENO);
    ::prctl(PR_SET_DUMPABLE, 0);  // no core files from the tests
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    replug::install_last_gasp();
    FCGX_Init();
    // Only the serving thread takes signals, so one sent from outside lands there.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    pthread_attr_t attributes;
    ::pthread_attr_init(&attributes);
    ::pthread_attr_setstacksize(&attributes, 1 << 20);
    pthread_t thread;
    if (::pthread_create(&thread, &attributes, serve_and_crash, const_cast<child_plan*>(&plan)) != 0) return 22;
    ::pthread_join(thread, nullptr);
    return 23;
}

// ---- the parent ----

// Reads FD until EOF or an error (its errno in *ERROR); gives up after 30 s
// without a byte.
std::string read_to_end(int fd, int* error = nullptr) {
    std::string bytes;
    char buffer[65536];
    while (true) {
        pollfd ready{fd, POLLIN, 0};
        if (::poll(&ready, 1, 30000) <= 0) {
            BOOST_ERROR("nothing to read for 30 s");
            break;
        }
        ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && error) *error = errno;
        if (got <= 0) break;
        bytes.append(buffer, static_cast<std::size_t>(got));
    }
    return bytes;
}

// CHILD's wait status; after 30 s it is killed (and the status says SIGKILL).
int wait_for_end(pid_t child) {
    int status = 0;
    for (int tick = 0; tick < 3000; ++tick) {
        pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done == child) return status;
        if (done < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
        ::usleep(10000);
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return status;
}

enum class transport { unix_socket, tcp };

// A connected pair: {client, server's end}.
std::pair<replug::unique_fd, replug::unique_fd> connection_over(transport kind) {
    int ends[2];
    if (kind == transport::unix_socket) {
        BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
        return {replug::unique_fd(ends[0]), replug::unique_fd(ends[1])};
    }
    replug::unique_fd listening(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    BOOST_REQUIRE(listening);
    BOOST_REQUIRE_EQUAL(::bind(listening.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    BOOST_REQUIRE_EQUAL(::listen(listening.get(), 1), 0);
    BOOST_REQUIRE_EQUAL(::getsockname(listening.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
    replug::unique_fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE_EQUAL(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    replug::unique_fd served(::accept4(listening.get(), nullptr, nullptr, SOCK_CLOEXEC));
    BOOST_REQUIRE(served);
    return {std::move(client), std::move(served)};
}

struct crash_result {
    int status = 0;         // from waitpid
    std::string answer;     // what the client received until the connection ended
    int read_error = 0;     // errno of the read that ended it (0: EOF)
    std::string log;        // the child's stderr
    replug::thread_reading slot;
};

crash_result run_crash(child_plan plan, transport kind = transport::unix_socket, std::string_view body = "") {
    auto board = replug::scoreboard::create(1, 2);
    BOOST_REQUIRE_MESSAGE(board, replug::testing::reason_of(board));
    auto [client, served] = connection_over(kind);
    std::string request = fastcgi_request(body);
    BOOST_REQUIRE_EQUAL(::write(client.get(), request.data(), request.size()), static_cast<ssize_t>(request.size()));
    int log_pipe[2], ready_pipe[2];
    BOOST_REQUIRE_EQUAL(::pipe2(log_pipe, O_CLOEXEC), 0);
    BOOST_REQUIRE_EQUAL(::pipe2(ready_pipe, O_CLOEXEC), 0);
    plan.connection = served.get();
    plan.board_fd = board->fd();
    plan.ready_fd = ready_pipe[1];

    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        ::close(client.get());
        ::close(log_pipe[0]);
        ::close(ready_pipe[0]);
        ::_exit(run_child(plan, log_pipe[1]));
    }
    served.reset();
    ::close(log_pipe[1]);
    ::close(ready_pipe[1]);
    replug::unique_fd log_end(log_pipe[0]), ready_end(ready_pipe[0]);

    crash_result result;
    if (plan.how == crash_kind::wait_for_kill) {
        pollfd ready{ready_end.get(), POLLIN, 0};
        char byte = 0;
        BOOST_REQUIRE_MESSAGE(::poll(&ready, 1, 30000) == 1 && ::read(ready_end.get(), &byte, 1) == 1,
                              "the child never reached its handler");  // it is inside the handler now
        ::kill(child, SIGSEGV);
    }
    result.answer = read_to_end(client.get(), &result.read_error);
    result.status = wait_for_end(child);
    result.log = read_to_end(log_end.get());
    result.slot = board->thread(worker_index, thread_index).read();
    BOOST_TEST_MESSAGE("child's stderr: " << result.log);
    return result;
}

void check_died_of(const crash_result& result, int signal) {
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(result.status) && WTERMSIG(result.status) == signal,
                          "wait status " << result.status << " (exit code "
                                         << (WIFEXITED(result.status) ? WEXITSTATUS(result.status) : -1)
                                         << ", signal " << (WIFSIGNALED(result.status) ? WTERMSIG(result.status) : 0)
                                         << "), expected death by signal " << signal << "; stderr: " << result.log);
}

// The child crashed inside the handler before its response started.
void check_answered_crash(crash_kind how, int signal, const char* name) {
    auto result = run_crash({.how = how});
    check_died_of(result, signal);
    check_crash_answer(result.answer);
    BOOST_TEST(result.read_error == 0);
    BOOST_TEST((result.slot.state == thread_state::crashed));
    BOOST_TEST(result.slot.signal_number == signal);
    BOOST_TEST(result.slot.route_slot == route_slot);
    BOOST_TEST(result.slot.generation == generation);
    std::string expected_line =
        std::string(name) + " in a handler (route slot 5, generation 9); answered 500 to FastCGI request 7\n";
    BOOST_TEST(result.log.find(expected_line) != std::string::npos, result.log);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_null_pointer_write_is_answered_500_and_kills_with_sigsegv) {
    check_answered_crash(crash_kind::null_write, SIGSEGV, "SIGSEGV");
}

BOOST_AUTO_TEST_CASE(abort_is_answered_500_and_kills_with_sigabrt) {
    check_answered_crash(crash_kind::abort, SIGABRT, "SIGABRT");
}

BOOST_AUTO_TEST_CASE(sigfpe_is_answered_500_and_kills_with_sigfpe) {
    check_answered_crash(crash_kind::raise_sigfpe, SIGFPE, "SIGFPE");
}

#if defined(__x86_64__) || defined(__i386__)
BOOST_AUTO_TEST_CASE(a_trap_instruction_is_answered_500_and_kills_with_sigill) {
    check_answered_crash(crash_kind::trap, SIGILL, "SIGILL");  // ud2 on x86; other machines trap with SIGTRAP
}
#endif

BOOST_AUTO_TEST_CASE(a_mapping_cut_short_is_answered_500_and_kills_with_sigbus) {
    check_answered_crash(crash_kind::bus_error, SIGBUS, "SIGBUS");
}

BOOST_AUTO_TEST_CASE(a_stack_overflow_is_answered_500_from_the_alternate_stack) {
    check_answered_crash(crash_kind::stack_overflow, SIGSEGV, "SIGSEGV");
}

BOOST_AUTO_TEST_CASE(once_the_response_started_nothing_more_is_written) {
    auto result = run_crash({.how = crash_kind::null_write, .start_response = true});
    check_died_of(result, SIGSEGV);
    // What libfcgi had flushed of the handler's own answer, and nothing after it.
    auto records = records_of(result.answer);
    BOOST_REQUIRE(!records.empty());
    std::string output;
    for (const auto& each : records) {
        BOOST_TEST(each.type == FCGI_STDOUT);
        BOOST_TEST(!each.content.empty());
        BOOST_TEST(each.id == request_id);
        output += each.content;
    }
    BOOST_TEST(output.starts_with("Status: 200 OK\r\n"));
    BOOST_TEST(output.find("Internal Server Error") == std::string::npos);
    BOOST_TEST(output.size() < 20000 + 100);  // not all of it: the rest died in libfcgi's buffer
    BOOST_TEST((result.slot.state == thread_state::crashed));
    BOOST_TEST(result.slot.signal_number == SIGSEGV);
    BOOST_TEST(result.log.find("SIGSEGV in a handler (route slot 5, generation 9); the response to FastCGI "
                               "request 7 had started: left unfinished\n") != std::string::npos,
               result.log);
}

BOOST_AUTO_TEST_CASE(a_crash_between_requests_answers_nothing_and_blames_no_route) {
    auto result = run_crash({.how = crash_kind::abort, .in_request = false});
    check_died_of(result, SIGABRT);
    BOOST_TEST(result.answer.empty());
    BOOST_TEST((result.slot.state == thread_state::idle));
    BOOST_TEST(result.slot.signal_number == SIGABRT);
    BOOST_TEST(result.log.find(": SIGABRT outside any handler\n") != std::string::npos, result.log);
}

BOOST_AUTO_TEST_CASE(a_signal_from_another_process_is_answered_but_blames_no_handler) {
    auto result = run_crash({.how = crash_kind::wait_for_kill});
    check_died_of(result, SIGSEGV);
    check_crash_answer(result.answer);
    BOOST_TEST((result.slot.state == thread_state::in_handler));  // what SIGKILL would leave: "uncertain"
    BOOST_TEST(result.slot.signal_number == 0);
    BOOST_TEST(result.log.find("SIGSEGV sent by pid " + std::to_string(::getpid()) +
                               "; answered 500 to FastCGI request 7\n") != std::string::npos,
               result.log);
}

// Over TCP, a socket closed with unread input sends RST, and the client may
// lose an answer it has not read yet. The handler never read this body.
BOOST_AUTO_TEST_CASE(over_tcp_the_answer_arrives_and_the_connection_ends_with_fin) {
    auto result = run_crash({.how = crash_kind::null_write}, transport::tcp, std::string(48 * 1024, 'b'));
    check_died_of(result, SIGSEGV);
    check_crash_answer(result.answer);
    BOOST_TEST(result.read_error == 0, "the read after the answer failed: " << std::strerror(result.read_error));
}
