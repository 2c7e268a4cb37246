// A worker's last gasp: what a thread does when a handler crashes it with
// SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT. On the thread's alternate
// stack (so that a stack overflow is caught too), with async-signal-safe
// calls only, it
//   1. marks the thread's scoreboard slot crashed with the signal;
//   2. if the thread was serving a request whose response had not started,
//      answers it with a complete FastCGI 500 (so that nginx does not retry
//      the crashing request on another worker), and ends the connection;
//   3. writes one line to stderr;
//   4. restores SIG_DFL and re-raises the signal, so the process dies of it
//      (its wait status and core dump are as if there were no handler).
// The crashed code never runs again, and nothing is recovered (no
// siglongjmp): a lock may be held, a pin leaked, the heap corrupt; the
// master starts a new worker.
//
// A signal sent by another process (kill -SEGV) is answered the same way
// but marks no slot crashed: no handler is to blame.
#ifndef REPLUG_LAST_GASP_HPP
#define REPLUG_LAST_GASP_HPP

#include <signal.h>

#include <cstddef>
#include <string_view>

namespace replug {

// The largest CGI response send_final_answer takes.
constexpr std::size_t max_final_answer = 512;

// Answers FastCGI request REQUEST_ID on CONNECTION with CGI_RESPONSE (the
// Status line, headers, a blank line and the body; at most
// max_final_answer bytes) as a complete FastCGI answer in one send, then
// ends the connection's writing side (nginx does not keep it) and reads away
// a bounded amount of the request that is left. With MAY_BLOCK false a full
// socket buffer is not waited for: what did not fit is lost. True when the
// whole answer went out. Async-signal-safe (the crash handler below and the
// handler watchdog both answer with it).
bool send_final_answer(int connection, int request_id, std::string_view cgi_response, bool may_block = true);

class fcgi_request;
class thread_slot;

// Installs the handler for the five signals, process-wide. Call once, in the
// worker, before its threads start; calling it again changes nothing.
void install_last_gasp();

// A thread's part, for the thread's whole life (the first thing it makes):
// an alternate signal stack of its own (a 64 KiB minimum, with a guard page
// below it), and SLOT, the scoreboard slot the handler marks if this thread
// crashes (null: none, e.g. with no scoreboard). The destructor puts back the
// alternate stack the thread had before and forgets SLOT.
// REQUIRES: at most one per thread; SLOT outlives it.
// Throws std::runtime_error when the stack cannot be mapped or installed.
class last_gasp_thread {
public:
    explicit last_gasp_thread(thread_slot* slot);
    ~last_gasp_thread();
    last_gasp_thread(const last_gasp_thread&) = delete;
    last_gasp_thread& operator=(const last_gasp_thread&) = delete;

private:
    void* mapping_ = nullptr;
    std::size_t mapping_size_ = 0;
    stack_t previous_{};
};

// The scoreboard slot of the calling thread's last_gasp_thread; null when
// it has none (a single process, a test).
thread_slot* this_thread_slot() noexcept;

// One request, for the length of the handler call: the request the handler
// answers with a 500 if the thread crashes before its response started.
// Made and destroyed on the thread that serves it; they nest (the inner one
// counts while it lives). Cheap: a few stores, no system call.
class last_gasp_request {
public:
    // REQUIRES: REQUEST outlives this object.
    explicit last_gasp_request(const fcgi_request& request) noexcept;
    // The same from its parts: CONNECTION, the FastCGI connection's socket;
    // REQUEST_ID, the FastCGI request id; *RESPONSE_STARTED turns true
    // before the first byte of the response may reach the socket.
    // REQUIRES: *RESPONSE_STARTED outlives this object.
    last_gasp_request(int connection, int request_id, const volatile bool* response_started) noexcept;
    ~last_gasp_request();
    last_gasp_request(const last_gasp_request&) = delete;
    last_gasp_request& operator=(const last_gasp_request&) = delete;

    int connection() const noexcept { return connection_; }
    int request_id() const noexcept { return request_id_; }
    bool response_started() const noexcept { return *response_started_; }

private:
    int connection_;
    int request_id_;
    const volatile bool* response_started_;
    const last_gasp_request* outer_;
};

}  // namespace replug

#endif
