#include "dev_mode.hpp"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "dev_error_page.hpp"
#include "inotify_events.hpp"

namespace replug {

namespace {

// A writer that never closes its file (it crashed) holds the compile this long.
constexpr auto abandoned_write = std::chrono::seconds(2);
constexpr std::uint32_t watched_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                         IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::filesystem::path make_build_dir() {
    const char* base = std::getenv("XDG_RUNTIME_DIR");
    if (!base || !*base || ::access(base, W_OK) != 0) base = std::getenv("TMPDIR");
    if (!base || !*base || ::access(base, W_OK) != 0) base = "/tmp";
    std::string pattern = std::string(base) + "/replugd-dev.XXXXXX";
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("--dev: cannot make a build directory in " + std::string(base) + ": " +
                                 std::strerror(errno));
    return pattern;
}

// Writes BYTES to FILE through a temporary name in the same directory, so
// that FILE is always whole. False (and nothing at FILE changed) on failure.
bool write_atomically(const std::filesystem::path& file, std::string_view bytes, const std::string& suffix) {
    auto temporary = file.parent_path() / ("." + file.filename().string() + suffix);
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) return false;
    }
    return ::rename(temporary.c_str(), file.c_str()) == 0;
}

}  // namespace

dev_mode::dev_mode(dev_settings settings, const logger& log)
    : settings_(std::move(settings)), log_(log), build_dir_(make_build_dir()) {
    ::setenv(dev_pages_variable, build_dir_.c_str(), 1);
    inotify_fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    control_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!inotify_fd_ || !control_fd_) throw std::runtime_error(std::string("--dev: inotify: ") + std::strerror(errno));
}

dev_mode::~dev_mode() {
    stopping_ = true;
    if (thread_.joinable()) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(control_fd_.get(), &one, sizeof one);
        thread_.join();
    }
    std::error_code error;
    std::filesystem::remove_all(build_dir_, error);
}

dev_mode::build_result dev_mode::build(const dev_module& module, std::atomic<pid_t>* compiler) {
    build_result result{module.name, false, 0};
    auto started = clock::now();
    std::vector<std::string> flags;
    std::string problem;  // why there is no compiler output to show
    if (module.flags_file) {
        std::ifstream in(settings_.dir / *module.flags_file);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto words = parse_flags(text);
        if (words)
            flags = std::move(*words);
        else
            problem = module.flags_file->string() + ": " + words.reason();
    }
    auto output = build_dir_ / (module.name + ".so");
    auto temporary = build_dir_ / ("." + module.name + ".so." + std::to_string(++temporary_));
    auto argv = compile_command(settings_.compiler, module, flags, temporary);
    std::string shown_command = shell_words(compile_command(settings_.compiler, module, flags, output));
    std::string compiler_output;
    if (problem.empty()) {
        auto ran = run_captured(argv, settings_.dir, compiler);
        if (!ran)
            problem = ran.reason();
        else if (!ran->ok())
            compiler_output = ran->output.empty() ? "(the compiler " + std::string(argv[0]) +
                                                        " failed without a message)"
                                                  : ran->output;
        else if (::rename(temporary.c_str(), output.c_str()) == 0)
            result.compiled = true;
        else
            problem = "cannot rename " + temporary.string() + ": " + std::strerror(errno);
        if (ran && ran->ok() && !ran->output.empty())
            log_.warn("dev: ", module.name, ": compiler warnings:\n", ran->output);
    }
    result.seconds = std::chrono::duration<double>(clock::now() - started).count();
    if (result.compiled || stopping_) return result;  // stopping: the compiler was killed, nothing to show
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    std::string shown = problem.empty() ? compiler_output : problem + "\n";
    write_atomically(build_dir_ / (module.name + ".html"), compile_error_page(module.name, shown_command, shown),
                     ".tmp");
    log_.error("dev: ", module.name, " does not compile; /", module.name, " answers 500 with the errors:\n",
               shown);
    install_stand_in(module.name);
    return result;
}

void dev_mode::install_stand_in(const std::string& name) {
    auto bytes = dev_error_page_module();
    std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (!write_atomically(build_dir_ / (name + ".so"), view, ".stand-in." + std::to_string(++temporary_)))
        log_.error("dev: cannot write the error page module for ", name, " in ", build_dir_.string());
}

void dev_mode::build_all() {
    auto modules = scan_dev_directory(settings_.dir);
    std::vector<const dev_module*> queue;
    for (const auto& [name, module] : modules) queue.push_back(&module);
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t i; (i = next++) < queue.size();) {
            auto result = build(*queue[i], nullptr);
            if (result.compiled)
                log_.info("dev: compiled ", result.name, " in ", static_cast<long>(result.seconds * 1000), "ms");
        }
    };
    std::vector<std::thread> workers;
    for (unsigned i = 1; i < std::min<std::size_t>(settings_.jobs, queue.size()); ++i) workers.emplace_back(work);
    work();
    for (auto& worker : workers) worker.join();
    std::lock_guard lock(names_mutex_);
    for (const auto& [name, module] : modules) built_.insert(name);
    if (modules.empty())
        log_.warn("dev: ", settings_.dir.string(), " has no NAME.cpp and no NAME/ with .cpp files yet; "
                  "new ones are served as they appear");
}

void dev_mode::add_routes(std::vector<route_spec>& routes, std::vector<std::filesystem::path>& search_path) const {
    std::lock_guard lock(names_mutex_);
    for (const auto& name : built_) {
        auto pattern = dev_route_pattern(name);
        bool taken = std::any_of(routes.begin(), routes.end(), [&](const auto& r) { return r.pattern == pattern; });
        if (!taken) routes.push_back({pattern, name, "serve"});
    }
    search_path.insert(search_path.begin(), build_dir_);
}

void dev_mode::start(route_control& routes, std::function<outcome<std::vector<swap_report>>()> apply_table) {
    routes_ = &routes;
    apply_table_ = std::move(apply_table);
    watch_directories();
    thread_ = std::thread([this] { run(); });
}

void dev_mode::watch_directories() {
    for (const auto& [descriptor, directory] : watched_) ::inotify_rm_watch(inotify_fd_.get(), descriptor);
    watched_.clear();
    std::vector<std::filesystem::path> wanted{""};
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(settings_.dir, error))
        if (valid_dev_name(entry.path().filename().string()) && entry.is_directory(error))
            wanted.push_back(entry.path().filename());
    for (const auto& relative : wanted) {
        auto directory = settings_.dir / relative;
        int descriptor = ::inotify_add_watch(inotify_fd_.get(), directory.c_str(), watched_events);
        if (descriptor < 0) {
            log_.warn("dev: cannot watch ", directory.string(), ": ", std::strerror(errno));
            continue;
        }
        watched_[descriptor] = relative;
    }
}

void dev_mode::handle_events() {
    bool rewatch = false;
    auto now = clock::now();
    auto mark = [&](const std::string& name) { due_[name] = now + settings_.quiet; };
    for_each_inotify_event(inotify_fd_.get(), [&](const inotify_event* event) {
        if (event->mask & IN_Q_OVERFLOW) {  // events lost: look at everything again
            rewatch = true;
            for (const auto& [name, module] : scan_dev_directory(settings_.dir)) mark(name);
            std::lock_guard lock(names_mutex_);
            for (const auto& name : built_) mark(name);
            return;
        }
        auto directory = watched_.find(event->wd);
        if (directory == watched_.end()) return;
        if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
            rewatch = true;
            if (auto name = dev_module_of(directory->second)) mark(*name);
            return;
        }
        if (event->len == 0) return;
        auto relative = directory->second / event->name;
        auto name = dev_module_of(relative);
        if (!name) return;
        if ((event->mask & IN_ISDIR) && directory->second.empty()) rewatch = true;  // DIR/NAME/ came or went
        if (event->mask & (IN_CREATE | IN_MODIFY))
            writing_.try_emplace(*name, now);
        if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)) writing_.erase(*name);
        mark(*name);
    });
    if (rewatch) watch_directories();
}

void dev_mode::start_due() {
    auto now = clock::now();
    std::map<std::string, dev_module> modules;
    bool scanned = false;
    for (auto each = due_.begin(); each != due_.end();) {
        const auto& [name, due] = *each;
        auto writer = writing_.find(name);
        bool still_writing = writer != writing_.end() && now - writer->second < abandoned_write;
        auto& state = states_[name];
        if (!state) state = std::make_unique<module_state>();
        if (due > now || still_writing) {
            ++each;
            continue;
        }
        if (state->compiling) {  // one more compile when this one ends
            state->again = true;
            each = due_.erase(each);
            continue;
        }
        if (running_ >= settings_.jobs) {
            ++each;
            continue;
        }
        if (writer != writing_.end()) writing_.erase(writer);
        if (!scanned) {
            modules = scan_dev_directory(settings_.dir);
            scanned = true;
        }
        auto found = modules.find(name);
        if (found == modules.end()) {
            bool was_served;
            {
                std::lock_guard lock(names_mutex_);
                was_served = built_.erase(name) > 0;
            }
            if (was_served) {
                log_.info("dev: ", name, " has no sources any more; removing route ", dev_route_pattern(name));
                auto applied = apply_table_();
                if (!applied) log_.error("dev: the route table without ", name, " was refused: ", applied.reason());
                std::error_code ignored;
                std::filesystem::remove(build_dir_ / (name + ".so"), ignored);
            }
            states_.erase(name);  // not compiling (checked above): a name that came and went, or never was
            each = due_.erase(each);
            continue;
        }
        state->compiling = true;
        state->again = false;
        ++running_;
        log_.info("dev: compiling ", name);
        compiles_[name] = std::thread([this, module = found->second, pid = &state->compiler] {
            post_done(build(module, pid));
        });
        each = due_.erase(each);
    }
}

void dev_mode::post_done(build_result result) {
    {
        std::lock_guard lock(done_mutex_);
        done_.push_back(std::move(result));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(control_fd_.get(), &one, sizeof one);
}

void dev_mode::finish(const build_result& result) {
    if (auto thread = compiles_.find(result.name); thread != compiles_.end()) {
        thread->second.join();
        compiles_.erase(thread);
    }
    --running_;
    auto& state = *states_[result.name];
    state.compiling = false;
    if (state.again) due_[result.name] = clock::now();
    auto took = std::to_string(static_cast<long>(result.seconds * 1000)) + "ms";
    bool added;
    {
        std::lock_guard lock(names_mutex_);
        added = built_.insert(result.name).second;
    }
    auto pattern = dev_route_pattern(result.name);
    if (added) {
        log_.info("dev: new module ", result.name, result.compiled ? " compiled in " + took : " does not compile",
                  "; adding route ", pattern);
        auto applied = apply_table_();
        if (!applied) log_.error("dev: the route table with ", pattern, " was refused: ", applied.reason());
        return;
    }
    if (result.compiled) log_.info("dev: compiled ", result.name, " in ", took, "; swapping route ", pattern);
    auto swapped = routes_->reload(pattern, {true});  // logs the swap, or why not
    if (swapped) return;
    if (swapped.kind() == failure_kind::not_found) {
        auto applied = apply_table_();  // a SIGHUP's table dropped it meanwhile
        if (!applied) log_.error("dev: the route table with ", pattern, " was refused: ", applied.reason());
        return;
    }
    if (!result.compiled) return;
    // It compiled, but the server will not load it (no handler, GNU-unique
    // symbols, a load hook that says no): the author sees why, not the old version.
    write_atomically(build_dir_ / (result.name + ".html"),
                     compile_error_page(result.name, "replugd: load " + result.name + ".so",
                                        "It compiled, but replugd refused to load it:\n" + swapped.reason() + "\n",
                                        256 * 1024, "is not served"),
                     ".tmp");
    install_stand_in(result.name);
    routes_->reload(pattern, {true});
}

void dev_mode::run() {
    while (true) {
        int timeout = -1;
        if (!due_.empty()) {
            auto next = clock::time_point::max();
            for (const auto& [name, due] : due_) next = std::min(next, due);
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock::now()).count();
            timeout = static_cast<int>(std::clamp<long long>(wait, 0, settings_.quiet.count()));
        }
        pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {control_fd_.get(), POLLIN, 0}};
        if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
            log_.error("dev: poll failed: ", std::strerror(errno), "; saves are no longer compiled");
            break;
        }
        if (fds[1].revents & POLLIN) {
            std::uint64_t value = 0;
            [[maybe_unused]] auto n = ::read(control_fd_.get(), &value, sizeof value);
        }
        if (stopping_) break;
        std::deque<build_result> done;
        {
            std::lock_guard lock(done_mutex_);
            done.swap(done_);
        }
        for (const auto& result : done) finish(result);
        if (fds[0].revents & POLLIN) handle_events();
        start_due();
    }
    // Stopping: end the compilers still running, and wait for their threads.
    for (const auto& [name, state] : states_)
        if (pid_t pid = state->compiler.load(); pid > 0) ::kill(-pid, SIGKILL);
    for (auto& [name, thread] : compiles_) thread.join();
}

}  // namespace replug
