// Dev mode's compiler: how a dev module becomes a module file, with the
// flags the SDK's replug.pc gives (-std=c++20 -fPIC -shared and the SDK's
// module flags, -I the SDK's include directory), then $CXXFLAGS, the
// sources, and the words of NAME.flags last (so that -lsqlite3 follows the
// objects that need it):
//
//   $CXX -std=c++20 -fPIC -shared <SDK flags> -I<include> $CXXFLAGS
//        <sources> <NAME.flags words> -o <output>
//
// The compiler runs in the dev directory (its messages name the user's
// files as "hello.cpp:5:3"), in a process group of its own, as the child of
// a middle process that passes its wait status back on a pipe: the master
// reaps every child of its own (waitpid(-1)), and would otherwise take the
// compiler's exit status from the thread that waits for it.
#ifndef REPLUG_MODULE_COMPILER_HPP
#define REPLUG_MODULE_COMPILER_HPP

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "dev_sources.hpp"
#include "outcome.hpp"

namespace replug {

struct compiler_setup {
    std::vector<std::string> command;     // $CXX's words, the first one an absolute path
    std::vector<std::string> sdk_flags;   // -std=c++20 -fPIC -shared ... -I<include>
    std::vector<std::string> user_flags;  // $CXXFLAGS's words
};

// Where the SDK's replug/module.hpp is for the replugd at EXE: in a build
// tree, the source tree's include/; else EXE/../../include (/usr/sbin/replugd
// -> /usr/include), then the include directory replugd was configured with.
// Fails naming every place it looked.
outcome<std::filesystem::path> find_sdk_include(const std::filesystem::path& exe);

// The compiler from CXX (default "g++"; several words, such as "ccache g++",
// are a command and its first arguments; the first is looked up in PATH) and
// CXXFLAGS (split at spaces). Fails with bad_input when the compiler is not
// found or not executable, naming CXX.
outcome<compiler_setup> find_compiler(const char* cxx, const char* cxxflags, const char* path,
                                      const std::filesystem::path& sdk_include);

// The program named WORD: WORD itself when it holds a '/', else the first
// executable DIR/WORD for DIR in PATH (':'-separated).
std::optional<std::filesystem::path> find_program(std::string_view word, std::string_view path);

// The argv for MODULE (sources and FLAGS relative to the dev directory) into OUTPUT.
std::vector<std::string> compile_command(const compiler_setup& compiler, const dev_module& module,
                                         const std::vector<std::string>& flags,
                                         const std::filesystem::path& output);

// The words of ARGV as a shell would need them quoted, for logs and pages.
std::string shell_words(const std::vector<std::string>& argv);

struct process_result {
    int status = 0;      // as waitpid() gives it
    std::string output;  // stdout and stderr together, cut at 1 MiB
    bool ok() const;     // exited with status 0
};

// Runs ARGV (argv[0] a path) in directory CWD with stdin from /dev/null,
// and returns its exit status and output. While it runs, *PID holds the
// process group it runs in, for a caller that may have to kill it; 0 after.
// Fails when it cannot start (errno's text). Safe in a process with threads
// and with another thread reaping every child.
outcome<process_result> run_captured(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                                     std::atomic<pid_t>* pid = nullptr);

}  // namespace replug

#endif
