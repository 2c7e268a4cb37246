// Starting and reaping worker processes: fork + execve with the worker's fds
// at fixed numbers and nothing else open, defaults for every signal, death
// with the master (PR_SET_PDEATHSIG); and why each child ended, in words.
//
// The master has threads, so between fork and execve the child makes only
// async-signal-safe calls; every array the child needs is built before fork.
#ifndef REPLUG_SPAWN_HPP
#define REPLUG_SPAWN_HPP

#include <sys/types.h>

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
// succeeded. The child starts with an empty signal mask, every signal at
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
// forked exits, not the process. If that thread is already gone before the
// prctl, the child exits at once without running the program.
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

}  // namespace replug

#endif
