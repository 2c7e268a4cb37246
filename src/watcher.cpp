#include "watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace replug {

namespace {

constexpr std::uint64_t stop_value = 1u << 20;
// A writer that never closes its file (it crashed) holds the reload this long.
constexpr auto abandoned_write = std::chrono::seconds(2);
constexpr std::uint32_t directory_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                           IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

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
    for (const auto& [descriptor, directory] : directories_) ::inotify_rm_watch(inotify_fd_.get(), descriptor);
    directories_.clear();
    files_.clear();
    std::set<std::filesystem::path> wanted;
    for (const auto& [pattern, candidates] : routes_.watch_list()) {
        for (const auto& file : candidates) {
            files_[file].insert(pattern);
            // The file's directory, or, while it does not exist (NAME/ for
            // NAME/index.so), the nearest existing one above it, so that its
            // creation is seen.
            auto directory = file.parent_path();
            std::error_code error;
            while (!std::filesystem::is_directory(directory, error) && directory != directory.parent_path())
                directory = directory.parent_path();
            wanted.insert(directory);
        }
    }
    for (const auto& directory : wanted) {
        int descriptor = ::inotify_add_watch(inotify_fd_.get(), directory.c_str(), directory_events);
        if (descriptor < 0) {
            log_.warn("watch: cannot watch ", directory.string(), ": ", std::strerror(errno));
            continue;
        }
        directories_[descriptor] = directory;
    }
    log_.debug("watch: ", directories_.size(), " directories for ", files_.size(), " candidate files");
}

void watcher::mark(const std::string& pattern, const std::filesystem::path& why) {
    pending_[pattern] = {clock::now() + quiet_, why};
}

void watcher::handle_events() {
    alignas(inotify_event) char buffer[64 * 1024];
    bool rewatch = false;
    while (true) {
        ssize_t n = ::read(inotify_fd_.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        for (char* at = buffer; at < buffer + n;) {
            auto* event = reinterpret_cast<inotify_event*>(at);
            at += sizeof(inotify_event) + event->len;
            if (event->mask & IN_Q_OVERFLOW) {  // events lost: reload everything watched
                for (const auto& [file, patterns] : files_)
                    for (const auto& pattern : patterns) mark(pattern, file);
                continue;
            }
            auto directory = directories_.find(event->wd);
            if (directory == directories_.end()) continue;
            if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                rewatch = true;
                continue;
            }
            if (event->len == 0) continue;
            auto path = directory->second / event->name;
            if (event->mask & IN_ISDIR) {
                // A directory came or went: watch anew, and reload the routes
                // with a candidate inside it (`mv build/ DIR/NAME`).
                rewatch = true;
                for (const auto& [file, patterns] : files_)
                    if (file.native().starts_with(path.native() + "/"))
                        for (const auto& pattern : patterns) mark(pattern, file);
                continue;
            }
            auto file = files_.find(path);
            if (file == files_.end()) continue;
            if (event->mask & (IN_CREATE | IN_MODIFY)) writing_.try_emplace(path, clock::now());
            if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)) writing_.erase(path);
            for (const auto& pattern : file->second) mark(pattern, path);
        }
    }
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
