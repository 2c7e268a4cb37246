// Watch mode (--watch): reloads a route when a file its module could resolve
// to is written, renamed in, removed, or appears earlier in the search path.
// inotify on the directories of every route's candidate files, and on the
// directories of every symlink on their way (a release symlink repointed, a
// Kubernetes ConfigMap's `..data` swapped); a reload waits
// until the file is closed after writing and then for a short quiet period,
// so a compiler writing the file in pieces triggers one reload of the
// finished file. A reload that fails leaves the route on its last good
// version and is logged by the registry.
#ifndef REPLUG_WATCHER_HPP
#define REPLUG_WATCHER_HPP

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "log.hpp"
#include "route_control.hpp"
#include "unique_fd.hpp"

namespace replug {

class watcher {
public:
    watcher(route_control& routes, const logger& log, std::chrono::milliseconds quiet = std::chrono::milliseconds(50));
    ~watcher();
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;

    // Re-reads the routes and their search path (after a SIGHUP applied a
    // new table). Thread-safe.
    void refresh();

private:
    using clock = std::chrono::steady_clock;

    void run();
    void watch_directories();
    void handle_events();
    void mark(const std::string& pattern, const std::filesystem::path& why);
    void reload_due();

    route_control& routes_;
    const logger& log_;
    std::chrono::milliseconds quiet_;
    unique_fd inotify_fd_;
    unique_fd control_fd_;  // eventfd: 1 = refresh, a large value = stop

    // Owned by the watcher thread.
    std::map<int, std::filesystem::path> directories_;              // watch descriptor -> directory
    std::map<std::filesystem::path, std::set<std::string>> files_;  // candidate file (real path) -> route patterns
    std::map<std::filesystem::path, std::set<std::string>> links_;  // symlink on a candidate's way -> route patterns
    std::map<std::filesystem::path, clock::time_point> writing_;    // written, not closed yet: since when
    std::map<std::string, std::pair<clock::time_point, std::filesystem::path>> pending_;  // pattern -> (due, file)

    std::thread thread_;
};

}  // namespace replug

#endif
