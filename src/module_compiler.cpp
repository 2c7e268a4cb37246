#include "module_compiler.hpp"

#include <fcntl.h>
#include <sched.h>
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

// What the child of run_captured needs, all made before clone.
struct child_plan {
    std::vector<char*> argv;
    const char* cwd = nullptr;
    int input = -1;
    int output = -1;
    int exec_errno = 0;  // written by the child (it shares our memory until execve)
    const char* failed_step = "";
};

// The child: async-signal-safe calls only (it runs on our memory, in a
// process that has threads).
int run_child(void* argument) {
    auto* plan = static_cast<child_plan*>(argument);
    auto fail = [plan](const char* step) {
        plan->exec_errno = errno;
        plan->failed_step = step;
        ::_exit(127);
    };
    ::setpgid(0, 0);
    if (::chdir(plan->cwd) < 0) fail("chdir");
    if (::dup2(plan->input, 0) < 0 || ::dup2(plan->output, 1) < 0 || ::dup2(plan->output, 2) < 0) fail("dup2");
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::sigaction(signal, &default_action, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(plan->argv[0], plan->argv.data(), environ);
    fail("execve");
    return 127;
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
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) return failure{std::string("pipe: ") + std::strerror(errno)};
    unique_fd reading(pipe_fds[0]), writing(pipe_fds[1]);
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
    // CLONE_VM | CLONE_VFORK as posix_spawn does: the child runs on this
    // stack until execve, and this thread waits for that. Exit signal 0:
    // no SIGCHLD, and waitpid(-1) without __WALL never sees it.
    std::vector<char> stack(64 * 1024);
    pid_t pid = ::clone(run_child, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK, &plan);
    if (pid < 0) return failure{std::string("clone: ") + std::strerror(errno)};
    writing.reset();
    if (pid_out) pid_out->store(pid);
    process_result result;
    char buffer[16 * 1024];
    while (true) {
        ssize_t n = ::read(reading.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (result.output.size() < output_limit)
            result.output.append(buffer, std::min<std::size_t>(n, output_limit - result.output.size()));
    }
    while (::waitpid(pid, &result.status, __WALL) < 0 && errno == EINTR) {
    }
    if (pid_out) pid_out->store(0);
    if (plan.exec_errno != 0)
        return failure{"cannot run " + argv[0] + ": " + plan.failed_step + ": " + std::strerror(plan.exec_errno)};
    return result;
}

}  // namespace replug
