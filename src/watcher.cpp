#include "watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "inotify_events.hpp"

namespace replug {

namespace {

constexpr std::uint64_t stop_value = 1u << 20;
// A writer that never closes its file (it crashed) holds the reload this long.
constexpr auto abandoned_write = std::chrono::seconds(2);
constexpr std::uint32_t directory_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                           IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// What a candidate file's path goes through, followed component by component
// as the kernel does (symlinks included, at most 40 of them).
struct path_chain {
    // The file the path names now, in real directories (no symlink on the way).
    std::filesystem::path file;
    // Names whose change changes what the path names: every symlink passed
    // (`current -> releases/2`, a ConfigMap's `..data`, the file itself when
    // it is a link), and the first directory on the way that does not exist.
    // Each is in a real directory.
    std::vector<std::filesystem::path> links;
    // False when a directory on the way is missing (or the links loop): then
    // FILE's directory does not exist either.
    bool complete = true;
};

path_chain follow(const std::filesystem::path& candidate) {
    path_chain chain;
    std::error_code error;
    auto absolute = std::filesystem::absolute(candidate, error);
    if (error) absolute = candidate;
    std::vector<std::string> ahead;  // the components still to follow, the next one last
    for (const auto& part : absolute.relative_path()) ahead.insert(ahead.begin(), part.string());
    std::filesystem::path at = "/";
    int hops = 0;
    while (!ahead.empty()) {
        auto name = std::move(ahead.back());
        ahead.pop_back();
        if (name.empty() || name == ".") continue;
        if (name == "..") {  // AT is real, so its parent is what ".." names
            at = at.parent_path();
            continue;
        }
        auto next = at / name;
        struct stat info {};
        bool exists = ::lstat(next.c_str(), &info) == 0;
        bool link = exists && S_ISLNK(info.st_mode);
        // A name on the way must be a directory or a link to follow; a loop ends it.
        bool passable = exists && (ahead.empty() || link || S_ISDIR(info.st_mode)) && !(link && ++hops > 40);
        if (!passable) {
            if (ahead.empty()) {  // only the file itself is missing
                chain.file = next;
                return chain;
            }
            chain.links.push_back(next);
            chain.complete = false;
            for (; !ahead.empty(); ahead.pop_back()) next /= ahead.back();
            chain.file = next;
            return chain;
        }
        if (!link) {
            at = next;
            continue;
        }
        chain.links.push_back(next);
        auto target = std::filesystem::read_symlink(next, error);
        if (error) {
            chain.complete = false;
            chain.file = next;
            return chain;
        }
        if (target.is_absolute()) at = "/";
        std::vector<std::string> parts;
        for (const auto& part : target.relative_path()) parts.push_back(part.string());
        ahead.insert(ahead.end(), parts.rbegin(), parts.rend());
    }
    chain.file = at;
    return chain;
}

}  // namespace

watcher::watcher(route_control& routes, const logger& log, std::chrono::milliseconds quiet)
    : routes_(routes), log_(log), quiet_(quiet) {
    inotify_fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    control_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!inotify_fd_ || !control_fd_) throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
    watch_directories();
    thread_ = std::thread([this] { run(); });
}

watcher::~watcher() {
    std::uint64_t stop = stop_value;
    [[maybe_unused]] auto n = ::write(control_fd_.get(), &stop, sizeof stop);
    thread_.join();
}

void watcher::refresh() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(control_fd_.get(), &one, sizeof one);
}

void watcher::watch_directories() {
    files_.clear();
    links_.clear();
    std::set<std::filesystem::path> wanted;
    for (const auto& [pattern, candidates] : routes_.watch_list()) {
        for (const auto& candidate : candidates) {
            auto chain = follow(candidate);
            files_[chain.file].insert(pattern);
            if (chain.complete) wanted.insert(chain.file.parent_path());
            for (const auto& link : chain.links) {
                links_[link].insert(pattern);
                wanted.insert(link.parent_path());
            }
        }
    }
    // Watches are added before the old ones go, so no event falls between.
    // inotify gives one descriptor per inode: a directory already watched
    // keeps its descriptor.
    std::map<int, std::filesystem::path> watched;
    for (const auto& directory : wanted) {
        int descriptor = ::inotify_add_watch(inotify_fd_.get(), directory.c_str(), directory_events);
        if (descriptor < 0) {
            log_.warn("watch: cannot watch ", directory.string(), ": ", std::strerror(errno));
            continue;
        }
        watched[descriptor] = directory;
    }
    for (const auto& [descriptor, directory] : directories_)
        if (!watched.contains(descriptor)) ::inotify_rm_watch(inotify_fd_.get(), descriptor);
    directories_ = std::move(watched);
    log_.debug("watch: ", directories_.size(), " directories for ", files_.size(), " candidate files and ",
               links_.size(), " links on the way");
}

void watcher::mark(const std::string& pattern, const std::filesystem::path& why) {
    pending_[pattern] = {clock::now() + quiet_, why};
}

void watcher::handle_events() {
    bool rewatch = false;
    for_each_inotify_event(inotify_fd_.get(), [&](const inotify_event* event) {
        if (event->mask & IN_Q_OVERFLOW) {  // events lost: reload everything watched
            for (const auto& [file, patterns] : files_)
                for (const auto& pattern : patterns) mark(pattern, file);
            return;
        }
        auto directory = directories_.find(event->wd);
        if (directory == directories_.end()) return;
        if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
            rewatch = true;
            return;
        }
        if (event->len == 0) return;
        auto path = directory->second / event->name;
        if (event->mask & IN_ISDIR) {
            // A directory came or went: watch anew, and reload the routes
            // with a candidate inside it (`mv build/ DIR/NAME`).
            rewatch = true;
            for (const auto& [file, patterns] : files_)
                if (file.native().starts_with(path.native() + "/"))
                    for (const auto& pattern : patterns) mark(pattern, file);
            return;
        }
        constexpr std::uint32_t name_changes = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;
        if (auto link = links_.find(path); link != links_.end() && (event->mask & name_changes)) {
            // A symlink on the way was repointed (`mv -T current.tmp
            // current`, a ConfigMap's `..data`): the path names another
            // file now; follow it anew and reload.
            rewatch = true;
            for (const auto& pattern : link->second) mark(pattern, path);
        }
        auto file = files_.find(path);
        if (file == files_.end()) return;
        // The file may have come back as a symlink to another directory.
        if (event->mask & name_changes) rewatch = true;
        if (event->mask & (IN_CREATE | IN_MODIFY)) writing_.try_emplace(path, clock::now());
        if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)) writing_.erase(path);
        for (const auto& pattern : file->second) mark(pattern, path);
    });
    if (rewatch) watch_directories();
}

void watcher::reload_due() {
    auto now = clock::now();
    for (auto each = pending_.begin(); each != pending_.end();) {
        const auto& [pattern, due_and_file] = *each;
        auto writer = writing_.find(due_and_file.second);
        bool still_writing = writer != writing_.end() && now - writer->second < abandoned_write;
        if (due_and_file.first > now || still_writing) {
            ++each;
            continue;
        }
        if (writer != writing_.end()) writing_.erase(writer);
        log_.info("watch: ", due_and_file.second.string(), " changed; reloading route=", pattern);
        routes_.reload(pattern);  // logs the swap or the refusal itself
        each = pending_.erase(each);
    }
}

void watcher::run() {
    while (true) {
        int timeout = -1;
        if (!pending_.empty()) {
            auto next = clock::time_point::max();
            for (const auto& [pattern, due_and_file] : pending_) next = std::min(next, due_and_file.first);
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock::now()).count();
            // Files still being written are checked again every quiet period.
            timeout = static_cast<int>(std::clamp<long long>(wait, 0, quiet_.count()));
        }
        pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {control_fd_.get(), POLLIN, 0}};
        int ready = ::poll(fds, 2, timeout);
        if (ready < 0 && errno != EINTR) {
            log_.error("watch: poll failed: ", std::strerror(errno));
            return;
        }
        if (fds[1].revents & POLLIN) {
            std::uint64_t value = 0;
            [[maybe_unused]] auto n = ::read(control_fd_.get(), &value, sizeof value);
            if (value >= stop_value) return;
            watch_directories();
        }
        if (fds[0].revents & POLLIN) handle_events();
        reload_due();
    }
}

}  // namespace replug
