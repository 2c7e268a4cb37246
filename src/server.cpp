#include "server.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <typeinfo>

#include "request_head.hpp"

namespace replug {

namespace {

// How long a client may take to send a request head, and to send or take
// the rest of a request once a worker serves it.
constexpr auto request_head_timeout = std::chrono::seconds(30);
constexpr timeval io_timeout{30, 0};
constexpr auto slow_check_interval = std::chrono::milliseconds(20);
// EPOLLRDHUP: a client that half-closed after a partial head is handed to
// libfcgi at once (it fails and closes), not kept waiting for bytes.
constexpr std::uint32_t connection_events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// Out of descriptors: how long accepting pauses, first and at most, and how
// often that is logged.
constexpr auto first_accept_pause = std::chrono::milliseconds(100);
constexpr auto longest_accept_pause = std::chrono::milliseconds(1000);
constexpr auto accept_failure_log_interval = std::chrono::seconds(1);

// Errors of accept that say the process or the system is out of a resource
// (descriptors, buffers), not that this connection failed.
bool out_of_resources(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// True when the peer has shut down its writing side or the socket failed.
bool peer_done(int fd) {
    pollfd state{fd, POLLRDHUP, 0};
    return ::poll(&state, 1, 0) > 0 && (state.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace

server::server(listener socket, unsigned threads, request_handler handler, const logger& log,
               thread_wrapper around_each_thread)
    : socket_(std::move(socket)),
      thread_count_(threads),
      handler_(std::move(handler)),
      log_(log),
      around_each_thread_(std::move(around_each_thread)) {
    epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
    wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    accept_timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!epoll_fd_ || !wake_fd_ || !timer_fd_ || !accept_timer_fd_)
        throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    int flags = ::fcntl(socket_.fd.get(), F_GETFL);
    ::fcntl(socket_.fd.get(), F_SETFL, flags | O_NONBLOCK);
    epoll_event listen_event{EPOLLIN | EPOLLONESHOT, {.fd = socket_.fd.get()}};
    epoll_event wake_event{EPOLLIN, {.fd = wake_fd_.get()}};  // level-triggered: wakes every worker
    epoll_event timer_event{EPOLLIN | EPOLLONESHOT, {.fd = timer_fd_.get()}};
    epoll_event accept_timer_event{EPOLLIN | EPOLLONESHOT, {.fd = accept_timer_fd_.get()}};
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, socket_.fd.get(), &listen_event) != 0 ||
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &wake_event) != 0 ||
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, timer_fd_.get(), &timer_event) != 0 ||
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, accept_timer_fd_.get(), &accept_timer_event) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

server::~server() {
    if (!workers_.empty()) stop(std::chrono::milliseconds(0));
    for (int fd : connections_) ::close(fd);
}

void server::start() {
    for (unsigned i = 0; i < thread_count_; ++i)
        workers_.emplace_back([this, i] {
            if (around_each_thread_)
                around_each_thread_(i, [this] { work(); });
            else
                work();
        });
}

void server::work() {
    running_.fetch_add(1);
    while (true) {
        epoll_event ready{};
        int n = ::epoll_wait(epoll_fd_.get(), &ready, 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            log_.error("epoll_wait failed: ", std::strerror(errno));
            break;
        }
        if (ready.data.fd == wake_fd_.get()) break;
        if (ready.data.fd == socket_.fd.get()) {
            accept_ready();
            continue;
        }
        if (ready.data.fd == timer_fd_.get()) {
            check_slow_connections();
            continue;
        }
        if (ready.data.fd == accept_timer_fd_.get()) {
            resume_accepting();
            continue;
        }
        bool hung_up = ready.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
        auto head = peek_request_head(ready.data.fd, hung_up);
        if (head == head_state::rejected || head == head_state::closed) {
            if (head == head_state::rejected)
                log_.warn("closing a connection whose FastCGI request head is malformed, too large, "
                          "or a management record");
            forget(ready.data.fd);
            ::close(ready.data.fd);
            continue;
        }
        if (head == head_state::incomplete) {
            wait_for_head(ready.data.fd);
            continue;
        }
        busy_.fetch_add(1);
        serve_connection(ready.data.fd);
        if (busy_.fetch_sub(1) == 1 && stopping_.load()) {
            std::lock_guard lock(mutex_);
            idle_.notify_all();
        }
    }
    running_.fetch_sub(1);
    std::lock_guard lock(mutex_);
    idle_.notify_all();
}

void server::accept_ready() {
    bool accepted = false;
    while (true) {
        int fd = ::accept4(socket_.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (out_of_resources(errno) && !stopping_.load()) {
                // The listen socket stays disarmed (EPOLLONESHOT) until the
                // pause ends: no thread spins on a connection it cannot take.
                back_off_accepting(errno);
                return;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && !stopping_.load())
                log_.warn("accept failed on ", socket_.description, ": ", std::strerror(errno));
            break;
        }
        accepted = true;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof io_timeout);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout, sizeof io_timeout);
        {
            std::lock_guard lock(mutex_);
            connections_.insert(fd);
        }
        epoll_event event{connection_events, {.fd = fd}};
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event);
        // One at a time from a socket other processes serve too, so that
        // the one that woke first does not take every connection waiting.
        if (socket_.shared) break;
    }
    if (accepted) {
        std::lock_guard lock(mutex_);
        accept_pause_ = std::chrono::milliseconds(0);
        // Said once the outage is over, within the same one line a second.
        auto now = std::chrono::steady_clock::now();
        if (accept_outage_logged_ && now - accept_failure_logged_ >= accept_failure_log_interval) {
            log_.info("accepting again on ", socket_.description, " (", accept_failures_unlogged_,
                      " failed accept(s) since the last report)");
            accept_outage_logged_ = false;
            accept_failures_unlogged_ = 0;
        }
    }
    if (!stopping_.load()) {
        epoll_event rearm{EPOLLIN | EPOLLONESHOT, {.fd = socket_.fd.get()}};
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, socket_.fd.get(), &rearm);
    }
}

void server::back_off_accepting(int error) {
    std::lock_guard lock(mutex_);
    accept_pause_ = accept_pause_.count() == 0 ? first_accept_pause : std::min(accept_pause_ * 2, longest_accept_pause);
    ++accept_failures_unlogged_;
    auto now = std::chrono::steady_clock::now();
    if (now - accept_failure_logged_ >= accept_failure_log_interval) {
        log_.warn("accept failed on ", socket_.description, ": ", std::strerror(error), " (",
                  accept_failures_unlogged_, " time(s) since the last report); not accepting for ",
                  accept_pause_.count(), "ms, serving the connections already open");
        accept_failures_unlogged_ = 0;
        accept_failure_logged_ = now;
        accept_outage_logged_ = true;
    }
    auto pause = std::chrono::duration_cast<std::chrono::nanoseconds>(accept_pause_).count();
    itimerspec once{{0, 0}, {pause / 1'000'000'000, pause % 1'000'000'000}};
    ::timerfd_settime(accept_timer_fd_.get(), 0, &once, nullptr);
}

void server::resume_accepting() {
    std::uint64_t expirations;
    [[maybe_unused]] auto n = ::read(accept_timer_fd_.get(), &expirations, sizeof expirations);
    epoll_event rearm_timer{EPOLLIN | EPOLLONESHOT, {.fd = accept_timer_fd_.get()}};
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, accept_timer_fd_.get(), &rearm_timer);
    if (stopping_.load()) return;  // stop() took the listen socket out of the set: it stays out
    epoll_event rearm{EPOLLIN | EPOLLONESHOT, {.fd = socket_.fd.get()}};
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, socket_.fd.get(), &rearm);
}

void server::park(int fd) {
    epoll_event rearm{connection_events, {.fd = fd}};
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &rearm);
}

void server::wait_for_head(int fd) {
    std::lock_guard lock(mutex_);
    slow_.emplace_back(fd, std::chrono::steady_clock::now() + request_head_timeout);
    if (slow_.size() == 1) {
        auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(slow_check_interval).count();
        itimerspec ticks{{0, interval}, {0, interval}};
        ::timerfd_settime(timer_fd_.get(), 0, &ticks, nullptr);
    }
}

void server::check_slow_connections() {
    std::uint64_t expirations;
    [[maybe_unused]] auto n = ::read(timer_fd_.get(), &expirations, sizeof expirations);
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::erase_if(slow_, [&](const auto& entry) {
        auto [fd, deadline] = entry;
        if (peek_request_head(fd, peer_done(fd)) != head_state::incomplete) {  // the epoll loop serves or rejects it
            park(fd);  // its bytes are there: the event fires at once
            return true;
        }
        if (now < deadline && !stopping_.load()) return false;
        log_.debug("closing a connection whose request head did not arrive in time");
        connections_.erase(fd);
        ::close(fd);
        return true;
    });
    if (slow_.empty()) {
        itimerspec off{};
        ::timerfd_settime(timer_fd_.get(), 0, &off, nullptr);
    }
    epoll_event rearm{EPOLLIN | EPOLLONESHOT, {.fd = timer_fd_.get()}};
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, timer_fd_.get(), &rearm);
}

bool server::request_waiting() const {
    for (int fd : connections_) {
        // Readable with a byte to read: the end of a connection (a client
        // that closed, or one the watchdog shut after its 504) is no request.
        pollfd state{fd, POLLIN, 0};
        char byte;
        if (::poll(&state, 1, 0) > 0 && (state.revents & POLLIN) &&
            ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
            return true;
    }
    return false;
}

void server::forget(int fd) {
    std::lock_guard lock(mutex_);
    connections_.erase(fd);
}

void server::serve_connection(int fd) {
    if (serve_once(fd, handler_, log_, &stopping_))
        park(fd);
    else
        forget(fd);
}

bool serve_once(int fd, const request_handler& handler, const logger& log, const std::atomic<bool>* stopping) {
    FCGX_Request raw;
    // No listen socket: if the connection ends, FCGX_Accept_r closes it and
    // fails instead of accepting another one behind our back.
    FCGX_InitRequest(&raw, -1, 0);
    raw.ipcFd = fd;
    raw.keepConnection = 1;  // so that the Finish inside Accept keeps our fd
    if (FCGX_Accept_r(&raw) < 0) return false;  // peer closed, or not FastCGI: libfcgi closed the fd
    bool taken_over = false;
    {
        fcgi_request call(raw);
        try {
            handler(call);
            call.finish();
        } catch (const std::exception& error) {  // the client went away while the answer was written
            if (!call.taken_over()) log.warn("response to ", printable(call.path()), " not finished: ", error.what());
        }
        taken_over = call.taken_over();
    }
    // A watchdog answered in the handler's place and ended the connection:
    // what libfcgi still writes fails (EPIPE), and the fd is closed.
    if ((stopping && stopping->load()) || taken_over) raw.keepConnection = 0;
    FCGX_Finish_r(&raw);
    return raw.ipcFd >= 0;
}

void server::stop_accepting() {
    if (stopping_.exchange(true)) return;
    // New connections are refused from now on. The fd itself stays open
    // (its number must not be reused while workers may still compare events
    // against it) until the destructor.
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, socket_.fd.get(), nullptr);
    if (!socket_.shared) {  // a shared socket stays open for the other processes that serve it
        ::shutdown(socket_.fd.get(), SHUT_RDWR);
        if (socket_.unix_path) ::unlink(socket_.unix_path->c_str());
    }
}

int server::stop(std::chrono::milliseconds drain, const std::function<int()>& left_behind) {
    if (stopped_.exchange(true)) return 0;
    stop_accepting();

    auto deadline = std::chrono::steady_clock::now() + drain;
    auto abandoned = [&] { return left_behind ? left_behind() : 0; };
    // The threads a timeout left behind never notify: with them, look again every 20 ms.
    auto wait = [&](const auto& done) {
        std::unique_lock lock(mutex_);
        if (!left_behind) return idle_.wait_until(lock, deadline, done);
        while (!done()) {
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline) return false;
            idle_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(20)));
        }
        return true;
    };
    // Done when no request runs and none waits on a connection, twice a
    // settle time apart: a request that a front server sent on a connection
    // accepted just before the stop, or on one from its keep-alive cache,
    // is served (and that connection closed after it), not dropped.
    constexpr auto settle = std::chrono::milliseconds(10);
    auto idle = [&] { return busy_.load() - abandoned() <= 0; };
    for (int quiet = 0; quiet < 2 && std::chrono::steady_clock::now() < deadline;) {
        wait(idle);
        std::unique_lock lock(mutex_);
        quiet = idle() && !request_waiting() ? quiet + 1 : 0;
        if (quiet < 2) idle_.wait_for(lock, settle);
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wake_fd_.get(), &one, sizeof one);
    wait([&] { return running_.load() - abandoned() <= 0; });
    std::unique_lock lock(mutex_);
    bool all_done = running_.load() == 0;
    int left = busy_.load();
    if (!all_done) {
        for (auto& worker : workers_) worker.detach();
        workers_.clear();
        return left > 0 ? left : 0;
    }
    lock.unlock();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    std::lock_guard relock(mutex_);
    for (int fd : connections_) ::close(fd);  // the slow ones among them
    connections_.clear();
    slow_.clear();
    return 0;
}

}  // namespace replug
