// Dev mode (--dev DIR): every module in DIR (see dev_sources.hpp) is
// compiled into a build directory of its own and served at /NAME/*; saving
// a source compiles it again in the background and swaps the new module
// file in through route_control::reload, the swap that production uses.
//
//   - The build directory is made fresh at start, outside DIR (under
//     $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp) and removed at exit. A
//     module file is compiled to a temporary name and renamed over
//     BUILD/NAME.so, so the loader never sees half a file (and it seals a
//     private copy of the bytes anyway).
//   - A module that does not compile is served by a stand-in (see
//     dev_error_page.hpp) that answers 500 with the compiler's output, until
//     a save compiles; a module whose first compile fails gets its route too.
//   - Changes are coalesced: a module compiles once its files have been
//     closed and quiet for QUIET; never twice at once; a change during a
//     compile makes one more compile after it.
//   - A new module adds its route, and a module whose files are gone loses
//     it: both re-apply the route table (through the reloader, so the
//     routes of the configuration stay as they are).
#ifndef REPLUG_DEV_MODE_HPP
#define REPLUG_DEV_MODE_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "dev_sources.hpp"
#include "log.hpp"
#include "module_compiler.hpp"
#include "outcome.hpp"
#include "route_control.hpp"
#include "unique_fd.hpp"

namespace replug {

struct dev_settings {
    std::filesystem::path dir;  // absolute
    compiler_setup compiler;
    unsigned jobs = 2;  // compiles at once, across modules
    std::chrono::milliseconds quiet{50};
};

class dev_mode {
public:
    // Makes the build directory and sets REPLUG_DEV_PAGES for the stand-in
    // (call it before any thread or worker starts). Throws
    // std::runtime_error when the build directory cannot be made.
    dev_mode(dev_settings settings, const logger& log);
    ~dev_mode();
    dev_mode(const dev_mode&) = delete;
    dev_mode& operator=(const dev_mode&) = delete;

    // Compiles every module of DIR now, JOBS at a time, and installs each
    // module file (or the stand-in). Call once, before add_routes.
    void build_all();

    // Adds a route /NAME/* = NAME for every built module to ROUTES (except
    // where ROUTES has that pattern already), and the build directory in
    // front of SEARCH_PATH. Thread-safe.
    void add_routes(std::vector<route_spec>& routes, std::vector<std::filesystem::path>& search_path) const;

    // From now on, watches DIR: a changed module compiles and is reloaded in
    // ROUTES; a module that comes or goes calls APPLY_TABLE (which applies
    // the configuration's routes plus add_routes). ROUTES and APPLY_TABLE
    // must outlive this object.
    void start(route_control& routes, std::function<outcome<std::vector<swap_report>>()> apply_table);

    const std::filesystem::path& build_dir() const { return build_dir_; }

private:
    using clock = std::chrono::steady_clock;

    struct build_result {
        std::string name;
        bool compiled = false;
        double seconds = 0;
    };
    struct module_state {
        bool compiling = false;
        bool again = false;  // changed during the compile
        std::atomic<pid_t> compiler{0};
    };

    build_result build(const dev_module& module, std::atomic<pid_t>* compiler);
    void install_stand_in(const std::string& name);
    void run();
    void watch_directories();
    void handle_events();
    void start_due();
    void finish(const build_result& result);
    void post_done(build_result result);

    dev_settings settings_;
    const logger& log_;
    std::filesystem::path build_dir_;
    std::atomic<unsigned> temporary_{0};

    mutable std::mutex names_mutex_;
    std::set<std::string> built_;  // modules with a file in the build directory: the routes

    route_control* routes_ = nullptr;
    std::function<outcome<std::vector<swap_report>>()> apply_table_;
    unique_fd inotify_fd_;
    unique_fd control_fd_;  // eventfd: a compile finished, or stop
    std::atomic<bool> stopping_{false};

    // Owned by the watching thread.
    std::map<int, std::filesystem::path> watched_;  // watch descriptor -> directory relative to DIR ("" for DIR)
    std::map<std::string, clock::time_point> due_;  // module -> when it may compile
    std::map<std::string, clock::time_point> writing_;  // module -> a file opened for writing, since when
    std::map<std::string, std::unique_ptr<module_state>> states_;
    unsigned running_ = 0;

    std::mutex done_mutex_;
    std::deque<build_result> done_;
    std::map<std::string, std::thread> compiles_;  // owned by the watching thread; joined when done
    std::thread thread_;
};

}  // namespace replug

#endif
