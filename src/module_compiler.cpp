#include "module_compiler.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "unique_fd.hpp"

extern char** environ;

namespace replug {

namespace {

constexpr std::size_t output_limit = 1 << 20;

std::vector<std::string> split_words(const char* text) {
    std::vector<std::string> words;
    std::istringstream input(text ? text : "");
    for (std::string word; input >> word;) words.push_back(word);
    return words;
}

bool has_sdk_header(const std::filesystem::path& include) {
    std::error_code error;
    return std::filesystem::is_regular_file(include / "replug" / "module.hpp", error);
}

// What the children of run_captured need, all made before fork.
struct child_plan {
    std::vector<char*> argv;
    const char* cwd = nullptr;
    int input = -1;
    int output = -1;  // the output pipe's writing end
    int status = -1;  // the status pipe's writing end (close-on-exec)
};

// One record on the status pipe.
struct status_record {
    int step;   // a child_step
    int value;  // a wait status for exited, else errno
};
enum child_step : int { exited = 0, chdir_failed, dup2_failed, fork_failed, exec_failed };
const char* step_name(int step) {
    switch (step) {
        case chdir_failed: return "chdir";
        case dup2_failed: return "dup2";
        case fork_failed: return "fork";
        default: return "execve";
    }
}

// The middle process: async-signal-safe calls only (it is a fork of a
// process that has threads). It starts the program as its own child, waits
// for it and writes its wait status on the status pipe: a process that
// reaps every child (the master's waitpid(-1)) may reap this one, but not
// the program, which is not its child.
[[noreturn]] void run_middle(const child_plan& plan) {
    auto report = [&plan](int step, int value) {
        status_record record{step, value};
        [[maybe_unused]] auto n = ::write(plan.status, &record, sizeof record);
    };
    ::setpgid(0, 0);  // the program's group too: killed as one
    if (::chdir(plan.cwd) < 0) {
        report(chdir_failed, errno);
        ::_exit(127);
    }
    if (::dup2(plan.input, 0) < 0 || ::dup2(plan.output, 1) < 0 || ::dup2(plan.output, 2) < 0) {
        report(dup2_failed, errno);
        ::_exit(127);
    }
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::sigaction(signal, &default_action, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    pid_t program = ::fork();
    if (program < 0) {
        report(fork_failed, errno);
        ::_exit(127);
    }
    if (program == 0) {
        ::execve(plan.argv[0], plan.argv.data(), environ);
        report(exec_failed, errno);
        ::_exit(127);
    }
    ::close(0);
    ::close(1);  // the output pipe ends when the program's copies close
    ::close(2);
    int status = 0;
    while (::waitpid(program, &status, 0) < 0 && errno == EINTR) {
    }
    report(exited, status);
    ::_exit(0);
}

std::string quoted(const std::string& word) {
    if (!word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                                "-_=+./:,@%") == std::string::npos)
        return word;
    std::string text = "'";
    for (char c : word) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return text + "'";
}

}  // namespace

bool process_result::ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

outcome<std::filesystem::path> find_sdk_include(const std::filesystem::path& exe) {
    std::vector<std::filesystem::path> candidates;
    std::error_code error;
    auto binary = std::filesystem::weakly_canonical(exe, error);
    std::string build_root = REPLUG_CONFIGURED_BUILD_ROOT;
    if (binary.native().starts_with(build_root + "/")) candidates.emplace_back(REPLUG_CONFIGURED_SOURCE_INCLUDE);
    candidates.push_back(binary.parent_path().parent_path() / "include");
    candidates.emplace_back(REPLUG_CONFIGURED_INCLUDEDIR);
    std::string looked;
    for (const auto& candidate : candidates) {
        if (has_sdk_header(candidate)) return candidate.lexically_normal();
        looked += (looked.empty() ? "" : ", ") + (candidate / "replug/module.hpp").lexically_normal().string();
    }
    return failure{"the SDK header is not installed (looked for " + looked +
                       "); install the SDK (Debian: replug-dev) to use --dev",
                   failure_kind::bad_input};
}

std::optional<std::filesystem::path> find_program(std::string_view word, std::string_view path) {
    if (word.find('/') != std::string_view::npos) return std::filesystem::path(word);
    while (true) {
        auto colon = path.find(':');
        std::string_view dir = path.substr(0, colon);
        std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / word;
        std::error_code error;
        if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, error))
            return std::filesystem::absolute(candidate, error);
        if (colon == std::string_view::npos) return std::nullopt;
        path.remove_prefix(colon + 1);
    }
}

outcome<compiler_setup> find_compiler(const char* cxx, const char* cxxflags, const char* path,
                                      const std::filesystem::path& sdk_include) {
    compiler_setup setup;
    setup.command = split_words(cxx && *cxx ? cxx : "g++");
    if (setup.command.empty()) setup.command = {"g++"};
    std::string named = "CXX=" + std::string(cxx && *cxx ? cxx : "g++ (the default)");
    auto program = find_program(setup.command[0], path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!program)
        return failure{"--dev: the compiler " + named + " is not in PATH; set CXX to an installed compiler",
                       failure_kind::bad_input};
    if (::access(program->c_str(), X_OK) < 0 || std::filesystem::is_directory(*program))
        return failure{"--dev: the compiler " + named + " cannot be run: " +
                           (errno ? std::string(std::strerror(errno)) : "a directory"),
                       failure_kind::bad_input};
    setup.command[0] = program->string();
    setup.sdk_flags = {"-std=c++20", "-fPIC", "-shared"};
    for (auto& flag : split_words(REPLUG_SDK_MODULE_FLAGS)) setup.sdk_flags.push_back(flag);
    setup.sdk_flags.push_back("-I" + sdk_include.string());
    setup.user_flags = split_words(cxxflags);
    return setup;
}

std::vector<std::string> compile_command(const compiler_setup& compiler, const dev_module& module,
                                         const std::vector<std::string>& flags,
                                         const std::filesystem::path& output) {
    std::vector<std::string> argv = compiler.command;
    argv.insert(argv.end(), compiler.sdk_flags.begin(), compiler.sdk_flags.end());
    argv.insert(argv.end(), compiler.user_flags.begin(), compiler.user_flags.end());
    for (const auto& source : module.sources) argv.push_back(source.string());
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("-o");
    argv.push_back(output.string());
    return argv;
}

std::string shell_words(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& word : argv) text += (text.empty() ? "" : " ") + quoted(word);
    return text;
}

outcome<process_result> run_captured(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                                     std::atomic<pid_t>* pid_out) {
    if (argv.empty()) return failure{"nothing to run", failure_kind::bad_input};
    int output_fds[2], status_fds[2];
    if (::pipe2(output_fds, O_CLOEXEC) < 0) return failure{std::string("pipe: ") + std::strerror(errno)};
    unique_fd reading(output_fds[0]), writing(output_fds[1]);
    if (::pipe2(status_fds, O_CLOEXEC) < 0) return failure{std::string("pipe: ") + std::strerror(errno)};
    unique_fd status_reading(status_fds[0]), status_writing(status_fds[1]);
    unique_fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) return failure{std::string("/dev/null: ") + std::strerror(errno)};

    std::vector<std::string> words = argv;
    std::string directory = cwd.string();
    child_plan plan;
    for (auto& word : words) plan.argv.push_back(word.data());
    plan.argv.push_back(nullptr);
    plan.cwd = directory.c_str();
    plan.input = null.get();
    plan.output = writing.get();
    plan.status = status_writing.get();
    pid_t middle = ::fork();
    if (middle < 0) return failure{std::string("fork: ") + std::strerror(errno)};
    if (middle == 0) run_middle(plan);
    ::setpgid(middle, middle);  // as the child does: the group exists before anyone may kill it
    writing.reset();
    status_writing.reset();
    if (pid_out) pid_out->store(middle);
    process_result result;
    char buffer[16 * 1024];
    while (true) {
        ssize_t n = ::read(reading.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (result.output.size() < output_limit)
            result.output.append(buffer, std::min<std::size_t>(n, output_limit - result.output.size()));
    }
    std::optional<status_record> first;
    status_record record{};
    while (true) {
        ssize_t n = ::read(status_reading.get(), &record, sizeof record);
        if (n < 0 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof record)) break;
        if (!first) first = record;
    }
    // The middle process's own status says nothing; when the master's
    // reaper took it first, this finds nothing to wait for.
    while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (pid_out) pid_out->store(0);
    if (!first) return failure{"cannot run " + argv[0] + ": its starter ended without a word"};
    if (first->step != exited)
        return failure{"cannot run " + argv[0] + ": " + step_name(first->step) + ": " + std::strerror(first->value)};
    result.status = first->value;
    return result;
}

}  // namespace replug
