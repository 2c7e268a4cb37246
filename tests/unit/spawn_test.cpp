// Starting workers: the child has its fds at their numbers (swaps and
// sources at their own target included) and no other, no signal blocked or
// ignored, PR_SET_PDEATHSIG SIGKILL, the environment asked for; a program
// that cannot run fails in the parent with errno's text; a worker dies with
// the process that started it. Reaping describes each end in words, and the
// respawn policy gives its waits for explicit death times.
#define BOOST_TEST_MODULE spawn
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "spawn.hpp"
#include "test_support.hpp"
#include "unique_fd.hpp"

using namespace std::chrono_literals;
using replug::describe_wait_status;
using replug::ended_child;
using replug::fd_placement;
using replug::failure_kind;
using replug::reap_children;
using replug::respawn_backoff;
using replug::respawn_limits;
using replug::signal_name;
using replug::spawn_request;
using replug::spawn_worker;
using replug::unique_fd;
using replug::testing::reason_of;

namespace {

std::string probe_program() {
    const char* path = std::getenv("REPLUG_SPAWN_PROBE");
    if (!path || !*path) throw std::runtime_error("REPLUG_SPAWN_PROBE is not set; run the tests with meson test");
    return path;
}

// What /proc/self/fd/FD of this process refers to: "socket:[1234]",
// "/memfd:board (deleted)", "pipe:[5678]".
std::string what_fd_is(int fd) {
    char target[4096];
    ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target);
    if (n < 0) throw std::runtime_error("readlink of fd " + std::to_string(fd) + " failed");
    return std::string(target, static_cast<std::size_t>(n));
}

unique_fd memfd_named(const char* name) {
    unique_fd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd) throw std::runtime_error("memfd_create failed");
    return fd;
}

std::string content_of(int fd) {
    char block[256];
    ssize_t n = ::pread(fd, block, sizeof block, 0);
    return n > 0 ? std::string(block, static_cast<std::size_t>(n)) : std::string();
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw std::runtime_error("waitpid failed");
    return status;
}

// The probe's report, read from a pipe placed at its fd 1, and how it ended.
struct probe_run {
    std::string report;
    int status = 0;

    // The lines that start with PREFIX, without it.
    std::vector<std::string> lines(const std::string& prefix) const {
        std::vector<std::string> found;
        std::istringstream input(report);
        for (std::string line; std::getline(input, line);)
            if (line.rfind(prefix, 0) == 0) found.push_back(line.substr(prefix.size()));
        return found;
    }
    std::string line(const std::string& prefix) const {
        auto found = lines(prefix);
        return found.size() == 1 ? found[0] : "(" + std::to_string(found.size()) + " lines)";
    }
    // fd number -> what it refers to, as the probe saw its own fds.
    std::map<int, std::string> fds() const {
        std::map<int, std::string> result;
        for (const auto& entry : lines("fd ")) {
            auto space = entry.find(' ');
            result[std::stoi(entry.substr(0, space))] = entry.substr(space + 1);
        }
        return result;
    }
};

probe_run run_probe(spawn_request request) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    unique_fd read_end(ends[0]);
    unique_fd write_end(ends[1]);
    request.program = probe_program();
    request.fds.push_back({write_end.get(), 1});
    auto pid = spawn_worker(request);
    if (!pid) throw std::runtime_error("spawn_worker failed: " + pid.reason());
    write_end.reset();
    probe_run run;
    char block[4096];
    for (;;) {
        ssize_t n = ::read(read_end.get(), block, sizeof block);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        run.report.append(block, static_cast<std::size_t>(n));
    }
    run.status = wait_for(*pid);
    return run;
}

unique_fd listening_socket() {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd.get(), 8) != 0)
        throw std::runtime_error("cannot open a listening socket");
    return fd;
}

std::pair<unique_fd, unique_fd> seqpacket_pair() {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0)
        throw std::runtime_error("socketpair failed");
    return {unique_fd(ends[0]), unique_fd(ends[1])};
}

// Polls reap_children() until every pid in PIDS has ended, or 10 s pass.
std::map<pid_t, ended_child> reap_until_ended(const std::vector<pid_t>& pids) {
    std::map<pid_t, ended_child> ended;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    auto all_ended = [&] {
        for (pid_t pid : pids)
            if (!ended.count(pid)) return false;
        return true;
    };
    while (!all_ended() && std::chrono::steady_clock::now() < deadline) {
        for (auto& child : reap_children()) ended[child.pid] = child;
        if (!all_ended()) std::this_thread::sleep_for(5ms);
    }
    return ended;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_child_has_its_fds_at_their_numbers_and_no_other) {
    auto listener = listening_socket();
    auto [control, control_peer] = seqpacket_pair();
    auto [admin, admin_peer] = seqpacket_pair();
    auto board = memfd_named("board");
    // Not close-on-exec, and still not for the child.
    unique_fd stray(::open("/dev/null", O_RDONLY));
    BOOST_TEST_REQUIRE(stray.get() >= 0);

    spawn_request request;
    request.argv = {"replugd", "--worker", "2", "write:6:written by the worker"};
    request.fds = {{listener.get(), 3}, {control_peer.get(), 4}, {admin_peer.get(), 5}, {board.get(), 6}};
    auto run = run_probe(request);
    BOOST_TEST_REQUIRE(WIFEXITED(run.status));
    BOOST_TEST_REQUIRE(WEXITSTATUS(run.status) == 0, run.report);

    BOOST_TEST(run.line("argv ") == "[replugd] [--worker] [2] [write:6:written by the worker]");
    auto fds = run.fds();
    std::map<int, std::string> expected{
        {3, what_fd_is(listener.get())},
        {4, what_fd_is(control_peer.get())},
        {5, what_fd_is(admin_peer.get())},
        {6, what_fd_is(board.get())},
    };
    for (int standard : {0, 2})  // as this process has them
        if (::fcntl(standard, F_GETFD) >= 0) expected[standard] = what_fd_is(standard);
    BOOST_TEST_REQUIRE(fds.count(1) == 1u, run.report);
    BOOST_TEST(fds[1].rfind("pipe:", 0) == 0u, fds[1]);
    fds.erase(1);
    BOOST_TEST((fds == expected), run.report);
    // Written through the child's fd 6, read through ours.
    BOOST_TEST(content_of(board.get()) == "written by the worker");
}

BOOST_AUTO_TEST_CASE(sources_that_are_targets_are_swapped_not_lost) {
    auto a = memfd_named("a");
    auto b = memfd_named("b");
    auto c = memfd_named("c");
    // Numbers of our choosing: a at A, b at A+1; c stays where it is and is
    // close-on-exec (a source at its own target must lose the flag).
    unique_fd high_a(::fcntl(a.get(), F_DUPFD_CLOEXEC, 100));
    unique_fd high_b(::fcntl(high_a.get(), F_DUPFD_CLOEXEC, high_a.get() + 1));
    ::dup2(b.get(), high_b.get());
    BOOST_TEST_REQUIRE(what_fd_is(high_b.get()) == "/memfd:b (deleted)");
    int c_number = c.get();

    spawn_request request;
    request.argv = {"probe"};
    request.fds = {{high_a.get(), high_b.get()}, {high_b.get(), high_a.get()}, {c_number, c_number}};
    auto run = run_probe(request);
    auto fds = run.fds();
    BOOST_TEST(fds[high_a.get()] == "/memfd:b (deleted)", run.report);
    BOOST_TEST(fds[high_b.get()] == "/memfd:a (deleted)", run.report);
    BOOST_TEST(fds[c_number] == "/memfd:c (deleted)", run.report);
    BOOST_TEST(fds.size() == 6u, run.report);  // 0, 1, 2 and the three
}

BOOST_AUTO_TEST_CASE(the_child_starts_with_no_signal_blocked_or_ignored_and_dies_with_its_parent) {
    sigset_t blocked;
    sigset_t previous_mask;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask);
    auto previous_pipe = ::signal(SIGPIPE, SIG_IGN);  // what block_signals() does in replugd
    auto previous_hup = ::signal(SIGHUP, SIG_IGN);

    spawn_request request;
    request.argv = {"probe"};
    auto run = run_probe(request);

    ::signal(SIGPIPE, previous_pipe);
    ::signal(SIGHUP, previous_hup);
    sigset_t mask_after;
    ::pthread_sigmask(SIG_SETMASK, &previous_mask, &mask_after);
    // Ours is as it was.
    BOOST_TEST(sigismember(&mask_after, SIGUSR1) == 1);
    BOOST_TEST(sigismember(&mask_after, SIGINT) == 0);

    BOOST_TEST(run.line("blocked ") == "0000000000000000", run.report);
    BOOST_TEST(run.line("ignored ") == "0000000000000000", run.report);
    BOOST_TEST(run.line("pdeathsig ") == std::to_string(SIGKILL));
    BOOST_TEST(run.line("ppid ") == std::to_string(::getpid()));
}

BOOST_AUTO_TEST_CASE(the_environment_is_ours_unless_one_is_given) {
    ::setenv("REPLUG_SPAWN_TEST", "inherited", 1);
    spawn_request request;
    request.argv = {"probe"};
    auto inherited = run_probe(request);
    ::unsetenv("REPLUG_SPAWN_TEST");
    auto variables = inherited.lines("env ");
    BOOST_TEST(std::count(variables.begin(), variables.end(), "REPLUG_SPAWN_TEST=inherited") == 1);

    request.environment = std::vector<std::string>{"ONLY=1", "EMPTY="};
    auto given = run_probe(request);
    BOOST_TEST(given.lines("env ") == (std::vector<std::string>{"ONLY=1", "EMPTY="}));
}

BOOST_AUTO_TEST_CASE(a_program_that_cannot_run_fails_in_the_parent_with_errnos_text) {
    spawn_request request;
    request.program = "/nonexistent/replugd";
    request.argv = {"replugd"};
    auto missing = spawn_worker(request);
    BOOST_TEST_REQUIRE(!missing.ok());
    BOOST_TEST(missing.reason() == "cannot execute /nonexistent/replugd: No such file or directory");
    BOOST_TEST(missing.kind() == failure_kind::failed);

    replug::testing::temp_dir directory;
    auto not_executable = directory / "replugd";
    replug::testing::overwrite_in_place(not_executable, "#!/bin/sh\n");
    request.program = not_executable.string();
    auto refused = spawn_worker(request);
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.reason() == "cannot execute " + not_executable.string() + ": Permission denied");

    // Both children were reaped by spawn_worker.
    BOOST_TEST(reap_children().empty());
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_fork) {
    auto board = memfd_named("board");
    unique_fd closed(::dup(board.get()));
    int closed_number = closed.release();
    ::close(closed_number);

    auto refusal = [&](spawn_request request) {
        auto result = spawn_worker(request);
        BOOST_TEST(result.ok() == false);
        BOOST_TEST((result.ok() || result.kind() == failure_kind::bad_input));
        return reason_of(result);
    };
    BOOST_TEST(refusal({"", {"true"}, {}, {}}) == "no program to start");
    BOOST_TEST(refusal({"/bin/true", {}, {}, {}}) == "argv is empty: it needs at least argv[0]");
    BOOST_TEST(refusal({"/bin/true", {"true", std::string("a\0b", 3)}, {}, {}}) == "argv[1] contains a NUL byte");
    BOOST_TEST(refusal({"/bin/true", {"true"}, {}, {{board.get(), 4}, {board.get(), 4}}}) ==
               "two fds are to be placed at 4");
    BOOST_TEST(refusal({"/bin/true", {"true"}, {}, {{board.get(), -1}}}) == "fd target -1 is negative");
    BOOST_TEST(refusal({"/bin/true", {"true"}, {}, {{closed_number, 4}}}) ==
               "fd " + std::to_string(closed_number) + " (to be placed at 4) is not open");
    BOOST_TEST(refusal({"/bin/true", {"true"}, {}, {{board.get(), 1 << 30}}}).find("RLIMIT_NOFILE") !=
               std::string::npos);
    BOOST_TEST(reap_children().empty());
}

BOOST_AUTO_TEST_CASE(a_worker_dies_with_the_process_that_started_it) {
    // Orphans come to this process instead of init, so that it sees them end.
    BOOST_TEST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int ends[2];
    BOOST_TEST_REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    unique_fd read_end(ends[0]);
    unique_fd write_end(ends[1]);

    pid_t middle = ::fork();
    BOOST_TEST_REQUIRE(middle >= 0);
    if (middle == 0) {
        spawn_request request;
        request.program = "/bin/sleep";
        request.argv = {"sleep", "60"};
        auto worker = spawn_worker(request);
        pid_t pid = worker.ok() ? *worker : -1;
        if (::write(write_end.get(), &pid, sizeof pid) != sizeof pid) ::_exit(1);
        for (;;) ::pause();
    }
    write_end.reset();
    pid_t worker = -1;
    BOOST_TEST_REQUIRE(::read(read_end.get(), &worker, sizeof worker) == static_cast<ssize_t>(sizeof worker));
    BOOST_TEST_REQUIRE(worker > 0);

    ::kill(middle, SIGKILL);
    BOOST_TEST(describe_wait_status(wait_for(middle)) == "killed by SIGKILL");
    auto ended = reap_until_ended({worker});
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    BOOST_TEST_REQUIRE(ended.count(worker) == 1u, "the worker still runs 10 s after its parent died");
    BOOST_TEST(ended[worker].description == "killed by SIGKILL");
}

BOOST_AUTO_TEST_CASE(reaping_describes_how_each_child_ended) {
    auto start_shell = [](std::string script) {
        spawn_request request;
        request.program = "/bin/sh";
        request.argv = {"sh", "-c", std::move(script)};
        auto pid = spawn_worker(request);
        if (!pid) throw std::runtime_error(pid.reason());
        return *pid;
    };
    pid_t exits = start_shell("exit 3");
    pid_t faults = start_shell("ulimit -c 0; kill -SEGV $$");
    pid_t sleeps = start_shell("exec sleep 60");
    ::kill(sleeps, SIGKILL);

    auto ended = reap_until_ended({exits, faults, sleeps});
    BOOST_TEST_REQUIRE(ended.size() == 3u);
    BOOST_TEST(ended[exits].description == "exited with status 3");
    BOOST_TEST(WEXITSTATUS(ended[exits].status) == 3);
    BOOST_TEST(ended[faults].description == "killed by SIGSEGV");
    BOOST_TEST(ended[sleeps].description == "killed by SIGKILL");
    BOOST_TEST(reap_children().empty());  // none left: ECHILD
}

BOOST_AUTO_TEST_CASE(wait_statuses_and_signals_in_words) {
    BOOST_TEST(describe_wait_status(W_EXITCODE(0, 0)) == "exited with status 0");
    BOOST_TEST(describe_wait_status(W_EXITCODE(255, 0)) == "exited with status 255");
    BOOST_TEST(describe_wait_status(W_EXITCODE(0, SIGSEGV) | WCOREFLAG) == "killed by SIGSEGV (core dumped)");
    BOOST_TEST(describe_wait_status(W_EXITCODE(0, SIGABRT)) == "killed by SIGABRT");
    BOOST_TEST(describe_wait_status(W_STOPCODE(SIGSTOP)) == "stopped by SIGSTOP");

    BOOST_TEST(signal_name(SIGSEGV) == "SIGSEGV");
    BOOST_TEST(signal_name(SIGKILL) == "SIGKILL");
    BOOST_TEST(signal_name(SIGBUS) == "SIGBUS");
    BOOST_TEST(signal_name(SIGRTMIN) == "SIGRTMIN");
    BOOST_TEST(signal_name(SIGRTMIN + 3) == "SIGRTMIN+3");
    BOOST_TEST(signal_name(SIGRTMAX) == "SIGRTMAX");
    BOOST_TEST(signal_name(0) == "signal 0");
    BOOST_TEST(signal_name(-1) == "signal -1");
    BOOST_TEST(signal_name(200) == "signal 200");
}

namespace {

using clock_type = respawn_backoff::clock;
const clock_type::time_point t0 = clock_type::time_point{} + 1h;

// A worker started at STARTED that lived LIVED: the wait before its replacement.
clock_type::duration death(respawn_backoff& slot, clock_type::time_point started, clock_type::duration lived) {
    return slot.after_death(started, started + lived);
}

}  // namespace

BOOST_AUTO_TEST_CASE(rare_deaths_cost_no_wait) {
    respawn_backoff slot;
    // Three deaths within 10 s are free.
    BOOST_TEST((death(slot, t0, 2s) == 0ms));
    BOOST_TEST((death(slot, t0 + 2s, 2s) == 0ms));
    BOOST_TEST((death(slot, t0 + 4s, 2s) == 0ms));
    // Deaths 10 s apart never pile up in a window, however short the lives.
    respawn_backoff spaced;
    for (int i = 0; i < 20; ++i) BOOST_TEST((death(spaced, t0 + i * 10s, 1s) == 0ms));
}

BOOST_AUTO_TEST_CASE(a_crash_loop_waits_longer_and_longer_up_to_a_cap) {
    respawn_backoff slot;
    auto now = t0;
    std::vector<clock_type::duration> waits;
    for (int i = 0; i < 12; ++i) {
        auto wait = death(slot, now, 50ms);  // dies 50 ms after its start
        waits.push_back(wait);
        now += 50ms + wait;
    }
    std::vector<clock_type::duration> expected{0ms,   0ms,    0ms,    100ms,  200ms,  400ms,
                                               800ms, 1600ms, 3200ms, 6400ms, 10s,    10s};
    BOOST_TEST((waits == expected));

    // Waits of 10 s spread the deaths wider than the window: still a loop.
    BOOST_TEST((death(slot, now, 50ms) == 10s));
}

BOOST_AUTO_TEST_CASE(a_worker_that_served_a_while_ends_the_loop) {
    respawn_backoff slot;
    auto now = t0;
    for (int i = 0; i < 6; ++i) now += 50ms + death(slot, now, 50ms);
    BOOST_TEST((death(slot, now, 29s) == 800ms));  // 29 s is not long enough
    now += 29s + 800ms;
    BOOST_TEST((death(slot, now, 30s) == 0ms));
    now += 30s;
    // A fresh start, whose first death that was: two more are free, the
    // fourth waits 100 ms.
    BOOST_TEST((death(slot, now, 1s) == 0ms));
    BOOST_TEST((death(slot, now + 1s, 1s) == 0ms));
    BOOST_TEST((death(slot, now + 2s, 1s) == 100ms));
}

BOOST_AUTO_TEST_CASE(the_limits_are_the_callers_to_set) {
    respawn_limits strict;
    strict.free_deaths = 0;
    strict.first_wait = 1s;
    strict.longest_wait = 3s;
    respawn_backoff slot(strict);
    BOOST_TEST((death(slot, t0, 1s) == 1s));
    BOOST_TEST((death(slot, t0 + 2s, 1s) == 2s));
    BOOST_TEST((death(slot, t0 + 5s, 1s) == 3s));
    BOOST_TEST((death(slot, t0 + 9s, 1s) == 3s));
}
