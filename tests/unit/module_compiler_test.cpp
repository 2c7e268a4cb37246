// Dev mode's compiler: the command it runs (the SDK's flags, then CXXFLAGS,
// the sources, and NAME.flags last), finding the compiler and the SDK, and
// running a child whose exit status a waitpid(-1) reaper cannot steal.
#define BOOST_TEST_MODULE module_compiler
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "module_compiler.hpp"

namespace fs = std::filesystem;
using replug::compiler_setup;

BOOST_AUTO_TEST_CASE(the_command_puts_libraries_after_the_sources) {
    compiler_setup compiler{{"/usr/bin/ccache", "g++"}, {"-std=c++20", "-fPIC", "-shared", "-I/sdk"}, {"-O1", "-g"}};
    replug::dev_module blog{"blog", {"blog/a.cpp", "blog/b.cpp"}, fs::path("blog.flags")};
    auto argv = replug::compile_command(compiler, blog, {"-lsqlite3"}, "/build/.blog.so.1");
    BOOST_TEST(argv == (std::vector<std::string>{"/usr/bin/ccache", "g++", "-std=c++20", "-fPIC", "-shared", "-I/sdk",
                                                 "-O1", "-g", "blog/a.cpp", "blog/b.cpp", "-lsqlite3", "-o",
                                                 "/build/.blog.so.1"}));
}

BOOST_AUTO_TEST_CASE(shell_words_quote_what_needs_it) {
    BOOST_TEST(replug::shell_words({"g++", "-DX=a b", "it's", "-I/x", ""}) == "g++ '-DX=a b' 'it'\\''s' -I/x ''");
}

BOOST_AUTO_TEST_CASE(the_compiler_comes_from_cxx_or_is_gpp) {
    auto include = fs::temp_directory_path();
    auto found = replug::find_compiler(nullptr, "-O2  -g", "/nonexistent:/bin:/usr/bin", include);
    BOOST_REQUIRE(found.ok());
    BOOST_TEST(fs::path(found->command[0]).filename() == "g++");
    BOOST_TEST(found->command[0].starts_with("/"));
    BOOST_TEST(found->user_flags == (std::vector<std::string>{"-O2", "-g"}));
    BOOST_TEST(found->sdk_flags.front() == "-std=c++20");
    BOOST_TEST(found->sdk_flags.back() == "-I" + include.string());
    auto words = replug::find_compiler("sh -c true", "", "/bin:/usr/bin", include);
    BOOST_REQUIRE(words.ok());
    BOOST_TEST(words->command.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_missing_compiler_is_named) {
    auto missing = replug::find_compiler("no-such-compiler++", "", "/bin:/usr/bin", "/x");
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.kind() == replug::failure_kind::bad_input));
    BOOST_TEST(missing.reason() ==
               "--dev: the compiler CXX=no-such-compiler++ is not in PATH; set CXX to an installed compiler");
    auto absent = replug::find_compiler("/nonexistent/g++", "", "/bin", "/x");
    BOOST_REQUIRE(!absent.ok());
    BOOST_TEST(absent.reason().starts_with("--dev: the compiler CXX=/nonexistent/g++ cannot be run: "));
}

BOOST_AUTO_TEST_CASE(find_program_searches_path_in_order) {
    BOOST_TEST(replug::find_program("sh", "/nonexistent:/bin").value() == fs::path("/bin/sh"));
    BOOST_TEST(replug::find_program("./x/y", "/bin").value() == fs::path("./x/y"));
    BOOST_TEST(!replug::find_program("no-such-program-here", "/bin:/usr/bin"));
}

BOOST_AUTO_TEST_CASE(the_sdk_header_is_found_beside_this_build) {
    // This test runs from the build tree: the source tree's include/.
    auto found = replug::find_sdk_include("/proc/self/exe");
    BOOST_REQUIRE_MESSAGE(found.ok(), (found.ok() ? std::string() : found.reason()));
    BOOST_TEST(fs::is_regular_file(*found / "replug" / "module.hpp"));
    auto nowhere = replug::find_sdk_include("/nonexistent/sbin/replugd");
    if (!fs::exists(REPLUG_CONFIGURED_INCLUDEDIR "/replug/module.hpp")) {
        BOOST_REQUIRE(!nowhere.ok());
        BOOST_TEST(nowhere.reason().find("/nonexistent/include/replug/module.hpp") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_child_runs_in_its_directory_and_its_output_is_kept) {
    auto ran = replug::run_captured({"/bin/sh", "-c", "pwd; echo oops >&2; read x; echo \"[$x]\"; exit 3"}, "/usr");
    BOOST_REQUIRE(ran.ok());
    BOOST_TEST(!ran->ok());
    BOOST_TEST(WIFEXITED(ran->status));
    BOOST_TEST(WEXITSTATUS(ran->status) == 3);
    BOOST_TEST(ran->output == "/usr\noops\n[]\n");  // stdin is /dev/null
    auto fine = replug::run_captured({"/bin/true"}, "/");
    BOOST_REQUIRE(fine.ok());
    BOOST_TEST(fine->ok());
}

BOOST_AUTO_TEST_CASE(a_child_that_cannot_start_is_a_failure) {
    auto ran = replug::run_captured({"/nonexistent/cc"}, "/");
    BOOST_REQUIRE(!ran.ok());
    BOOST_TEST(ran.reason() == "cannot run /nonexistent/cc: execve: No such file or directory");
    auto nowhere = replug::run_captured({"/bin/true"}, "/nonexistent-dir");
    BOOST_REQUIRE(!nowhere.ok());
    BOOST_TEST(nowhere.reason() == "cannot run /bin/true: chdir: No such file or directory");
}

BOOST_AUTO_TEST_CASE(the_masters_reaper_cannot_take_a_compilers_status) {
    // The master reaps every child with waitpid(-1, WNOHANG) from its own
    // thread; a compile must still learn its own exit status. (Seen: a
    // clone child with exit signal 0 gets SIGCHLD again at execve, and the
    // reaper took g++'s status.)
    std::atomic<bool> done{false};
    std::thread reaper([&] {
        while (!done) {
            int status;
            ::waitpid(-1, &status, WNOHANG);
        }
    });
    for (int i = 0; i < 20; ++i) {
        auto ran = replug::run_captured({"/bin/sh", "-c", "/bin/true; exit 7"}, "/");
        BOOST_REQUIRE(ran.ok());
        BOOST_TEST(WEXITSTATUS(ran->status) == 7);
    }
    done = true;
    reaper.join();
    // (The reaper took some of the middle processes: theirs to take.)
}

BOOST_AUTO_TEST_CASE(the_pid_is_published_while_the_child_runs) {
    std::atomic<pid_t> pid{0};
    std::thread killer([&] {
        while (pid.load() == 0) std::this_thread::yield();
        ::kill(-pid.load(), SIGKILL);  // its own process group
    });
    auto started = std::chrono::steady_clock::now();
    auto ran = replug::run_captured({"/bin/sh", "-c", "sleep 30"}, "/", &pid);
    killer.join();
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(20)));
    BOOST_REQUIRE(!ran.ok());  // the whole group is gone, the one that would have told too
    BOOST_TEST(ran.reason() == "cannot run /bin/sh: its starter ended without a word");
    BOOST_TEST(pid.load() == 0);
}
