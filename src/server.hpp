// Threads serving FastCGI: accept -> read the request -> the handler (the
// dispatcher) -> finish the response. libfcgi speaks the protocol;
// connections are ours.
//
// Idle connections are parked in one epoll set that every worker waits on,
// so a thread never sits in read() on a keep-alive connection that has no
// request (nginx's fastcgi_keep_conn would otherwise pin one thread per
// connection, make others wait seconds in the backlog, and keep SIGTERM
// from ever completing). A worker takes one ready connection, lets
// FCGX_Accept_r read the request from it, serves it, and parks it again.
// A connection is handed to libfcgi (whose reads block) only once its whole
// request head has arrived; until then it waits in a slow list that a timer
// re-checks, so a client that trickles its request holds no thread.
//
// When accept fails for lack of descriptors (EMFILE, ENFILE) or kernel
// memory, the server stops accepting for a while (100 ms, doubling to 1 s
// while it keeps failing), as nginx disables its accept events: the
// connections it has keep being served, the ones waiting stay in the
// listen backlog (or go to a sibling worker process with descriptors to
// spare) and are accepted once descriptors free up. It logs at most once a
// second, with the count of failures since the last line.
#ifndef REPLUG_SERVER_HPP
#define REPLUG_SERVER_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "fcgi_request.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "unique_fd.hpp"

namespace replug {

// Serves the next request on FD, an accepted connection whose request head
// has arrived: libfcgi reads the request, HANDLER answers it, and the
// response is finished (headers if none went out, the rest of the request
// body read); what the handler throws is logged. True when the connection
// stays open for another request; false when it ended (libfcgi has closed
// FD). When STOPPING is given and true once the handler has returned, the
// connection is closed after this request (read then: the handler itself
// may have stopped the server). The server's threads and the fuzzer both
// come through here.
bool serve_once(int fd, const request_handler& handler, const logger& log,
                const std::atomic<bool>* stopping = nullptr);

// Runs BODY, the whole life of serving thread INDEX, inside whatever that
// thread needs around it (a worker's scoreboard slot and alternate signal stack).
using thread_wrapper = std::function<void(unsigned index, const std::function<void()>& body)>;

class server {
public:
    server(listener socket, unsigned threads, request_handler handler, const logger& log,
           thread_wrapper around_each_thread = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Starts the workers and returns.
    void start();

    // Stops accepting, and closes each connection after the request it
    // carries; returns at once. For a worker that retires while it serves
    // (stop() still drains it); stop() begins with it.
    void stop_accepting();

    // Stops accepting, lets requests in flight finish within DRAIN (and
    // serves those already sent on its connections, each connection closed
    // after), closes idle connections and joins the workers. Returns the number of requests
    // still running when DRAIN ran out (their threads are left behind).
    // LEFT_BEHIND, when given, counts busy threads not to wait for (a
    // watchdog answered their requests; their handlers are stuck): once only
    // they are left, it returns their number at once.
    int stop(std::chrono::milliseconds drain, const std::function<int()>& left_behind = {});

    unsigned threads() const { return thread_count_; }
    int busy() const { return busy_.load(std::memory_order_relaxed); }

private:
    void work();
    void accept_ready();
    void serve_connection(int fd);
    void park(int fd);
    void forget(int fd);
    void wait_for_head(int fd);
    void check_slow_connections();
    // True when some connection has bytes no thread has read. REQUIRES: mutex_ held.
    bool request_waiting() const;
    // Accept failed with ERROR for lack of resources: pause accepting.
    void back_off_accepting(int error);
    void resume_accepting();

    listener socket_;
    unsigned thread_count_;
    request_handler handler_;
    const logger& log_;
    thread_wrapper around_each_thread_;

    unique_fd epoll_fd_;
    unique_fd wake_fd_;
    unique_fd timer_fd_;  // ticks while slow_ is not empty
    unique_fd accept_timer_fd_;  // fires when accepting resumes after a back-off
    std::vector<std::thread> workers_;
    std::atomic<bool> stopping_{false};  // stop_accepting() was called
    std::atomic<bool> stopped_{false};   // stop() was called
    std::atomic<int> busy_{0};
    std::atomic<int> running_{0};

    std::mutex mutex_;  // guards connections_ and the two condition variables' waits
    std::condition_variable idle_;
    std::unordered_set<int> connections_;
    // Connections whose request head is still arriving, with their deadline.
    std::vector<std::pair<int, std::chrono::steady_clock::time_point>> slow_;
    // Accept back-off (under mutex_): the current pause, failures not yet
    // logged, and when the last line was written.
    std::chrono::milliseconds accept_pause_{0};
    std::uint64_t accept_failures_unlogged_ = 0;
    std::chrono::steady_clock::time_point accept_failure_logged_{};
    bool accept_outage_logged_ = false;  // a failure was logged, its end not yet
};

}  // namespace replug

#endif
