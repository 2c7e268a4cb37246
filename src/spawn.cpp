#include "spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <set>

#include "unique_fd.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace replug {

namespace {

// How far the child got when it could not exec: it writes one of these into
// a close-on-exec pipe, which a successful execve closes unwritten.
enum class child_step : int { pdeathsig, move_fds, place_fds, close_fds, exec };

struct child_report {
    child_step step;
    int error;
    int fd;  // the target being placed, for place_fds
};

// Everything the child needs, built before fork so that the child allocates
// nothing. The child changes only its own copy (moved sources).
struct child_plan {
    const char* program = nullptr;
    std::vector<char*> argv;  // null-terminated
    std::vector<char*> envp;  // null-terminated
    std::vector<fd_placement> fds;
    std::vector<int> targets;  // ascending, distinct
    int above_targets = 3;     // above every target, and at least 3
    int report_fd = -1;
    int fd_limit = 0;  // for the loop when close_range() is missing
    pid_t parent = 0;
    struct sigaction default_action {};
    sigset_t no_signals{};
};

[[noreturn]] void fail_in_child(int report_fd, child_step step, int error, int fd = -1) {
    child_report report{step, error, fd};
    // One write below PIPE_BUF is atomic; the parent is waiting for it.
    ssize_t written = ::write(report_fd, &report, sizeof report);
    static_cast<void>(written);
    ::_exit(127);
}

// Marks fds FIRST..LAST close-on-exec, within the fd limit.
bool close_at_exec(unsigned first, unsigned last, int fd_limit) {
    if (first > last) return true;
    if (::close_range(first, last, CLOSE_RANGE_CLOEXEC) == 0) return true;
    if (errno != ENOSYS && errno != EINVAL) return false;
    // Kernels before 5.11: one fd at a time (open or not).
    for (unsigned fd = first; fd <= last && fd < static_cast<unsigned>(fd_limit); ++fd)
        ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return true;
}

// Between fork and execve: async-signal-safe calls only.
[[noreturn]] void run_child(child_plan& plan) {
    int report = plan.report_fd;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail_in_child(report, child_step::pdeathsig, errno);
    // The parent died before the prctl: nobody would ever send the signal.
    if (::getppid() != plan.parent) ::_exit(127);

    // Every signal is blocked (since before fork), so no handler of the
    // parent's runs here. SIGKILL, SIGSTOP and glibc's own refuse: fine.
    for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &plan.default_action, nullptr);

    // Move every fd below the targets above them first, so that no dup2()
    // overwrites a source (or the report pipe) still to be placed.
    if (report < plan.above_targets) {
        report = ::fcntl(report, F_DUPFD_CLOEXEC, plan.above_targets);
        if (report < 0) fail_in_child(plan.report_fd, child_step::move_fds, errno);
    }
    for (auto& placement : plan.fds) {
        if (placement.source >= plan.above_targets) continue;
        int moved = ::fcntl(placement.source, F_DUPFD_CLOEXEC, plan.above_targets);
        if (moved < 0) fail_in_child(report, child_step::move_fds, errno);
        placement.source = moved;
    }
    // dup2() clears close-on-exec on the target; a source is never its own
    // target here (dup2(fd, fd) would keep the flag).
    for (const auto& placement : plan.fds) {
        while (::dup2(placement.source, placement.target) < 0)
            if (errno != EINTR) fail_in_child(report, child_step::place_fds, errno, placement.target);
    }
    unsigned next = 3;
    for (int target : plan.targets) {
        if (target < 3) continue;
        if (!close_at_exec(next, static_cast<unsigned>(target) - 1, plan.fd_limit))
            fail_in_child(report, child_step::close_fds, errno);
        next = static_cast<unsigned>(target) + 1;
    }
    if (!close_at_exec(next, UINT_MAX, plan.fd_limit)) fail_in_child(report, child_step::close_fds, errno);

    ::sigprocmask(SIG_SETMASK, &plan.no_signals, nullptr);
    ::execve(plan.program, plan.argv.data(), plan.envp.data());
    fail_in_child(report, child_step::exec, errno);
}

// RLIMIT_NOFILE's soft limit: no fd number reaches it.
int fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= INT_MAX) return INT_MAX;
    return static_cast<int>(limit.rlim_cur);
}

bool has_nul(const std::string& text) { return text.find('\0') != std::string::npos; }

std::optional<failure> refusal_of(const spawn_request& request) {
    auto refuse = [](std::string reason) { return failure{std::move(reason), failure_kind::bad_input}; };
    if (request.program.empty()) return refuse("no program to start");
    if (has_nul(request.program)) return refuse("the program's path contains a NUL byte");
    if (request.argv.empty()) return refuse("argv is empty: it needs at least argv[0]");
    for (std::size_t i = 0; i < request.argv.size(); ++i)
        if (has_nul(request.argv[i])) return refuse("argv[" + std::to_string(i) + "] contains a NUL byte");
    if (request.environment)
        for (const auto& variable : *request.environment)
            if (has_nul(variable)) return refuse("an environment variable contains a NUL byte");
    // The child moves its sources (and its report pipe) above every target
    // before placing them: it needs that many free numbers there.
    long long highest_target = static_cast<long long>(fd_limit()) - static_cast<long long>(request.fds.size()) - 2;
    std::set<int> targets;
    for (const auto& placement : request.fds) {
        auto where = " (to be placed at " + std::to_string(placement.target) + ")";
        if (placement.target < 0) return refuse("fd target " + std::to_string(placement.target) + " is negative");
        if (placement.target > highest_target)
            return refuse("fd target " + std::to_string(placement.target) + " is too close to the fd limit (" +
                          std::to_string(fd_limit()) + ", RLIMIT_NOFILE)");
        if (!targets.insert(placement.target).second)
            return refuse("two fds are to be placed at " + std::to_string(placement.target));
        if (placement.source < 0 || ::fcntl(placement.source, F_GETFD) < 0)
            return refuse("fd " + std::to_string(placement.source) + where + " is not open");
    }
    return std::nullopt;
}

child_plan plan_for(const spawn_request& request) {
    child_plan plan;
    plan.program = request.program.c_str();
    for (const auto& argument : request.argv) plan.argv.push_back(const_cast<char*>(argument.c_str()));
    plan.argv.push_back(nullptr);
    if (request.environment) {
        for (const auto& variable : *request.environment) plan.envp.push_back(const_cast<char*>(variable.c_str()));
    } else {
        for (char** variable = environ; *variable; ++variable) plan.envp.push_back(*variable);
    }
    plan.envp.push_back(nullptr);
    plan.fds = request.fds;
    for (const auto& placement : request.fds) {
        plan.targets.push_back(placement.target);
        plan.above_targets = std::max(plan.above_targets, placement.target + 1);
    }
    std::sort(plan.targets.begin(), plan.targets.end());
    plan.fd_limit = fd_limit();
    plan.parent = ::getpid();
    plan.default_action.sa_handler = SIG_DFL;
    ::sigemptyset(&plan.default_action.sa_mask);
    ::sigemptyset(&plan.no_signals);
    return plan;
}

std::string reason_from(const spawn_request& request, const child_report& report) {
    std::string error = std::strerror(report.error);
    switch (report.step) {
        case child_step::exec: return "cannot execute " + request.program + ": " + error;
        case child_step::pdeathsig:
            return "cannot start " + request.program + ": prctl(PR_SET_PDEATHSIG): " + error;
        case child_step::move_fds: return "cannot start " + request.program + ": cannot move its fds: " + error;
        case child_step::place_fds:
            return "cannot start " + request.program + ": cannot place fd " + std::to_string(report.fd) + ": " + error;
        case child_step::close_fds:
            return "cannot start " + request.program + ": cannot close the other fds: " + error;
    }
    return "cannot start " + request.program + ": " + error;
}

void wait_for_child(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

outcome<pid_t> spawn_worker(const spawn_request& request) {
    if (auto refusal = refusal_of(request)) return *refusal;
    child_plan plan = plan_for(request);

    int report_pipe[2];
    if (::pipe2(report_pipe, O_CLOEXEC) != 0) return failure{"pipe2: " + std::string(std::strerror(errno))};
    unique_fd report_read(report_pipe[0]);
    unique_fd report_write(report_pipe[1]);
    plan.report_fd = report_write.get();

    // Blocked across fork, so that no signal reaches the child before its
    // handlers are reset (glibc's posix_spawn does the same).
    sigset_t all_signals;
    sigset_t previous;
    ::sigfillset(&all_signals);
    ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
    pid_t pid = ::fork();
    if (pid == 0) run_child(plan);
    int fork_error = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) return failure{"fork: " + std::string(std::strerror(fork_error))};

    report_write.reset();
    child_report report{};
    ssize_t n;
    do n = ::read(report_read.get(), &report, sizeof report);
    while (n < 0 && errno == EINTR);
    if (n == 0) return pid;  // execve closed the pipe: the program runs

    if (n != static_cast<ssize_t>(sizeof report)) {
        // Cannot happen (a write below PIPE_BUF is atomic), but if it did,
        // nobody would know whether the program runs: stop it.
        std::string why = n < 0 ? std::strerror(errno) : "a short report";
        ::kill(pid, SIGKILL);
        wait_for_child(pid);
        return failure{"cannot start " + request.program + ": cannot read the child's report: " + why};
    }
    wait_for_child(pid);
    return failure{reason_from(request, report)};
}

std::vector<ended_child> reap_children() {
    std::vector<ended_child> ended;
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            ended.push_back({pid, status, describe_wait_status(status)});
            continue;
        }
        if (pid < 0 && errno == EINTR) continue;
        return ended;  // 0: none has ended; ECHILD: no children
    }
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by " + signal_name(WTERMSIG(status)) + (WCOREDUMP(status) ? " (core dumped)" : "");
    if (WIFSTOPPED(status)) return "stopped by " + signal_name(WSTOPSIG(status));
    if (WIFCONTINUED(status)) return "continued";
    return "ended with wait status " + std::to_string(status);
}

std::string signal_name(int signal) {
    // glibc names no real-time signal.
    if (signal == SIGRTMIN) return "SIGRTMIN";
    if (signal == SIGRTMAX) return "SIGRTMAX";
    if (signal > SIGRTMIN && signal < SIGRTMAX) return "SIGRTMIN+" + std::to_string(signal - SIGRTMIN);
    if (const char* name = ::sigabbrev_np(signal)) return std::string("SIG") + name;
    return "signal " + std::to_string(signal);
}

respawn_backoff::clock::duration respawn_backoff::after_death(clock::time_point started, clock::time_point died) {
    if (died - started >= limits_.healthy_after) {
        recent_deaths_.clear();
        wait_ = clock::duration::zero();
    }
    std::erase_if(recent_deaths_, [&](clock::time_point death) { return died - death >= limits_.window; });
    recent_deaths_.push_back(died);
    // Only whether more than free_deaths fall in the window matters.
    if (recent_deaths_.size() > limits_.free_deaths + 1) recent_deaths_.erase(recent_deaths_.begin());

    if (wait_ > clock::duration::zero())
        wait_ = std::min(wait_ * 2, limits_.longest_wait);
    else if (recent_deaths_.size() > limits_.free_deaths)
        wait_ = std::min(limits_.first_wait, limits_.longest_wait);
    return wait_;
}

}  // namespace replug
