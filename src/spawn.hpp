// Starting and reaping worker processes: fork + execve with the worker's fds
// at fixed numbers and nothing else open, defaults for every signal, death
// with the master (PR_SET_PDEATHSIG); why each child ended, in words; and
// when to start a replacement in a slot whose worker keeps dying.
//
// The master has threads, so between fork and execve the child makes only
// async-signal-safe calls; every array the child needs is built before fork.
#ifndef REPLUG_SPAWN_HPP
#define REPLUG_SPAWN_HPP

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "outcome.hpp"

namespace replug {

// An fd of this process (SOURCE) that the child gets as TARGET.
struct fd_placement {
    int source = -1;
    int target = -1;
};

struct spawn_request {
    std::string program;            // a path, execve'd as it is (no PATH search)
    std::vector<std::string> argv;  // argv[0] included
    // "NAME=value" strings; nullopt: this process's environment.
    std::optional<std::vector<std::string>> environment;
    // Where the child finds its fds, e.g. {{listen, 3}, {control, 4},
    // {admin, 5}, {board, 6}}. Sources may be any open fds of this process,
    // close-on-exec or not, and may be each other's targets (a swap works).
    // The child keeps 0, 1 and 2 as they are unless a placement targets
    // them; every other fd is closed at exec.
    std::vector<fd_placement> fds;
};

// Starts REQUEST.program in a child and returns its pid once execve has
// succeeded (it waits for that: about a millisecond). The child starts with an empty signal mask, every signal at
// its default (SIG_IGN too, which execve would keep), PR_SET_PDEATHSIG
// SIGKILL, and only its placed fds (plus 0, 1, 2).
// Fails with bad_input (no child made) for an empty program or argv, a NUL
// inside a string, a negative or repeated target, a target at the fd limit
// (RLIMIT_NOFILE), or a source that is not open; with failed for fork's
// errors; and for a child that could not exec (or place its fds), with
// errno's text: "cannot execute /x/replugd: No such file or directory"
// (that child is reaped here).
// REQUIRES: called from a thread that lives as long as the process (the
// main thread): the kernel sends PR_SET_PDEATHSIG when the thread that
// forked exits, not the process. (A child whose parent process died before
// its prctl exits at once without running the program: no signal would
// ever come.)
// REQUIRES: no other thread reaps children meanwhile (reap_children() from
// the same thread is fine), so that a failed child is reaped here.
outcome<pid_t> spawn_worker(const spawn_request& request);

// A child that has ended, and why.
struct ended_child {
    pid_t pid = 0;
    int status = 0;           // as waitpid() gave it
    std::string description;  // describe_wait_status(status)
};

// Every child of this process that has ended since the last call, without
// waiting (waitpid(-1, WNOHANG) until none is left); empty when none has.
// Every child means all of them, not only workers: the process must not
// start other children that something else waits for.
std::vector<ended_child> reap_children();

// Why a child ended, from its waitpid() status: "exited with status 3",
// "killed by SIGSEGV (core dumped)", "killed by SIGKILL".
std::string describe_wait_status(int status);

// "SIGSEGV", "SIGRTMIN+3", "SIGRTMAX"; "signal 77" for a number that names
// no signal.
std::string signal_name(int signal);

// The limits of a respawn_backoff. The numbers, and why:
// - 3 deaths within 10 s cost no wait: a request that crashes its worker
//   and is retried (nginx retries on another connection, clients retry)
//   kills a worker or two; the fourth death within 10 s is a crash loop (a
//   module that crashes on load, or on every request).
// - then 100 ms, doubling: at once a crash loop costs a slot at most ~10
//   fork+execs a second, and the wait reaches its cap after 7 more deaths
//   (12.7 s of waiting).
// - at most 10 s: one fork+exec per 10 s for a broken slot, and a slot that
//   a reload has fixed serves again within 10 s.
// - a worker that served 30 s (three times the window) ends the loop: its
//   start-up and its modules' loads were fine, its death is a new event.
struct respawn_limits {
    std::size_t free_deaths = 3;
    std::chrono::steady_clock::duration window = std::chrono::seconds(10);
    std::chrono::steady_clock::duration first_wait = std::chrono::milliseconds(100);
    std::chrono::steady_clock::duration longest_wait = std::chrono::seconds(10);
    std::chrono::steady_clock::duration healthy_after = std::chrono::seconds(30);
};

// For one worker slot: how long to wait before starting the replacement of
// a worker that died. A pure policy: it reads no clock, it is told the times.
// Not thread-safe (one per slot, used by the master's main loop).
class respawn_backoff {
public:
    using clock = std::chrono::steady_clock;

    respawn_backoff() = default;
    explicit respawn_backoff(respawn_limits limits) : limits_(limits) {}

    // The slot's worker, started at STARTED, died at DIED (an unplanned death:
    // not a worker the master stopped). Returns the wait from DIED before
    // starting its replacement: zero while deaths are rare; once more than
    // free_deaths fall within a window, first_wait, then twice the last wait
    // for each death after, up to longest_wait, until a worker has lived
    // healthy_after.
    // REQUIRES: calls in the order of the deaths.
    clock::duration after_death(clock::time_point started, clock::time_point died);

private:
    respawn_limits limits_;
    std::vector<clock::time_point> recent_deaths_;  // within the window, oldest first
    clock::duration wait_{};
};

}  // namespace replug

#endif
