#include "last_gasp.hpp"

#include <fastcgi.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fcgi_request.hpp"
#include "scoreboard.hpp"

namespace replug {

namespace {

constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr std::size_t minimum_stack = 64 * 1024;

// What the handler reads. constinit, trivial types: no lazy initialization,
// no TLS wrapper call, safe to read from a signal handler.
constinit thread_local std::atomic<thread_slot*> current_slot{nullptr};
constinit thread_local std::atomic<const last_gasp_request*> current_request{nullptr};

constexpr std::string_view crash_answer =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Internal Server Error\n";

// Everything below runs in the signal handler: no allocation, no locks, no
// stdio; only system calls on the async-signal-safe list.

// Appends one FastCGI record (header, content, padding to 8 bytes) at OUT;
// returns the bytes written.
std::size_t put_record(unsigned char* out, unsigned char type, int request_id, std::string_view content) {
    auto length = static_cast<unsigned>(content.size());
    auto padding = static_cast<unsigned char>((8 - length % 8) % 8);
    FCGI_Header header{};
    header.version = FCGI_VERSION_1;
    header.type = type;
    header.requestIdB1 = static_cast<unsigned char>((request_id >> 8) & 0xff);
    header.requestIdB0 = static_cast<unsigned char>(request_id & 0xff);
    header.contentLengthB1 = static_cast<unsigned char>((length >> 8) & 0xff);
    header.contentLengthB0 = static_cast<unsigned char>(length & 0xff);
    header.paddingLength = padding;
    std::size_t at = 0;
    for (char byte : std::string_view(reinterpret_cast<const char*>(&header), sizeof header))
        out[at++] = static_cast<unsigned char>(byte);
    for (char byte : content) out[at++] = static_cast<unsigned char>(byte);
    for (unsigned i = 0; i < padding; ++i) out[at++] = 0;
    return at;
}

}  // namespace

// The whole answer to REQUEST_ID: FCGI_STDOUT with the CGI response, the
// empty FCGI_STDOUT that ends the stream, FCGI_END_REQUEST (appStatus 0,
// FCGI_REQUEST_COMPLETE). Sent with one call, so it leaves in one segment.
bool send_final_answer(int connection, int request_id, std::string_view cgi_response, bool may_block) {
    if (cgi_response.size() > max_final_answer) return false;
    unsigned char answer[3 * FCGI_HEADER_LEN + max_final_answer + 8 + sizeof(FCGI_EndRequestBody)];
    std::size_t size = put_record(answer, FCGI_STDOUT, request_id, cgi_response);
    size += put_record(answer + size, FCGI_STDOUT, request_id, {});
    FCGI_EndRequestBody end{};
    end.protocolStatus = FCGI_REQUEST_COMPLETE;
    size += put_record(answer + size, FCGI_END_REQUEST, request_id,
                       std::string_view(reinterpret_cast<const char*>(&end), sizeof end));
    const unsigned char* next = answer;
    int flags = MSG_NOSIGNAL | (may_block ? 0 : MSG_DONTWAIT);
    bool sent_all = true;
    while (size > 0) {
        // send(), not write(): a connection is a socket, MSG_NOSIGNAL keeps a
        // closed one from raising SIGPIPE, and a wrong fd (a smashed stack)
        // fails with ENOTSOCK instead of writing into a file.
        ssize_t sent = ::send(connection, next, size, flags);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) {
            sent_all = false;
            break;
        }
        next += sent;
        size -= static_cast<std::size_t>(sent);
    }
    // The end of the connection right behind the answer (shutdown pushes both
    // out at once, Nagle or not; nginx must not keep the connection for its
    // next request). Then the unread rest of the request (a bounded amount):
    // a TCP socket closed with unread input is reset, and a reset throws away
    // what the kernel has not sent yet and shows the client ECONNRESET.
    ::shutdown(connection, SHUT_WR);
    char sink[4096];
    for (int reads = 0; reads < 64; ++reads) {
        ssize_t got = ::recv(connection, sink, sizeof sink, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
    }
    return sent_all;
}

namespace {

const char* signal_name(int signal) {
    switch (signal) {
        case SIGSEGV: return "SIGSEGV";
        case SIGBUS: return "SIGBUS";
        case SIGILL: return "SIGILL";
        case SIGFPE: return "SIGFPE";
        case SIGABRT: return "SIGABRT";
        default: return "a signal";
    }
}

// One log line in a fixed buffer; what does not fit is cut.
class log_line {
public:
    log_line& operator<<(const char* text) {
        while (*text && used_ < sizeof text_) text_[used_++] = *text++;
        return *this;
    }
    log_line& operator<<(std::uint64_t number) {
        char digits[20];
        int count = 0;
        do {
            digits[count++] = static_cast<char>('0' + number % 10);
            number /= 10;
        } while (number > 0);
        while (count > 0 && used_ < sizeof text_) text_[used_++] = digits[--count];
        return *this;
    }
    void write_to_stderr() {
        text_[used_ < sizeof text_ ? used_++ : sizeof text_ - 1] = '\n';
        const char* next = text_;
        std::size_t left = used_;
        while (left > 0) {
            ssize_t written = ::write(STDERR_FILENO, next, left);
            if (written < 0 && errno == EINTR) continue;
            if (written <= 0) return;
            next += written;
            left -= static_cast<std::size_t>(written);
        }
    }

private:
    char text_[256];
    std::size_t used_ = 0;
};

void last_gasp(int signal, siginfo_t* info, void*) {
    pid_t self = ::getpid();
    // Kernel-made signals (a fault) have si_code > 0; abort() and raise()
    // send with si_pid = this process.
    bool from_outside = info && info->si_code <= 0 && info->si_pid != self;
    thread_slot* slot = current_slot.load(std::memory_order_acquire);
    const last_gasp_request* request = current_request.load(std::memory_order_acquire);

    log_line report;
    report << "error worker pid=" << static_cast<std::uint64_t>(self) << ": " << signal_name(signal);
    if (from_outside) {
        report << " sent by pid " << static_cast<std::uint64_t>(info->si_pid);
    } else if (slot) {
        slot->mark_crashed(signal);
        auto reading = slot->read();
        if (reading.state == thread_state::crashed)
            report << " in a handler (route slot " << std::uint64_t{reading.route_slot} << ", generation "
                   << reading.generation << ")";
        else
            report << " outside any handler";
    }
    if (request) {
        if (request->response_started())
            report << "; the response to FastCGI request " << static_cast<std::uint64_t>(request->request_id())
                   << " had started: left unfinished";
        else if (send_final_answer(request->connection(), request->request_id(), crash_answer))
            report << "; answered 500 to FastCGI request " << static_cast<std::uint64_t>(request->request_id());
        else
            report << "; could not answer FastCGI request " << static_cast<std::uint64_t>(request->request_id());
    }
    report.write_to_stderr();

    // Die of the same signal. It is blocked while this handler runs, so it
    // stays pending and is delivered, with SIG_DFL, when the handler returns:
    // for a fault, before the faulting instruction runs again.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    ::sigaction(signal, &default_action, nullptr);
    ::raise(signal);
}

}  // namespace

thread_slot* this_thread_slot() noexcept { return current_slot.load(std::memory_order_relaxed); }

void install_last_gasp() {
    struct sigaction action {};
    action.sa_sigaction = last_gasp;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    // Blocked while it runs: a fault inside the handler then kills the
    // process at once (the kernel forces SIG_DFL) instead of recursing, and a
    // SIGPIPE from writing to a closed stderr stays pending behind the signal
    // being re-raised (which has a lower number, so it is delivered first).
    sigemptyset(&action.sa_mask);
    for (int each : fatal_signals) sigaddset(&action.sa_mask, each);
    sigaddset(&action.sa_mask, SIGPIPE);
    for (int each : fatal_signals) ::sigaction(each, &action, nullptr);
}

last_gasp_thread::last_gasp_thread(thread_slot* slot) {
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t stack_size = minimum_stack;
#ifdef _SC_SIGSTKSZ
    if (long wanted = ::sysconf(_SC_SIGSTKSZ); wanted > 0)
        stack_size = std::max(stack_size, static_cast<std::size_t>(wanted));
#endif
    stack_size = (stack_size + page - 1) / page * page;
    mapping_size_ = stack_size + page;  // the lowest page is the guard
    mapping_ = ::mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping_ == MAP_FAILED)
        throw std::runtime_error("cannot map an alternate signal stack: " + std::string(std::strerror(errno)));
    stack_t stack{};
    stack.ss_sp = static_cast<char*>(mapping_) + page;
    stack.ss_size = stack_size;
    if (::mprotect(mapping_, page, PROT_NONE) != 0 || ::sigaltstack(&stack, &previous_) != 0) {
        std::string why = std::strerror(errno);
        ::munmap(mapping_, mapping_size_);
        throw std::runtime_error("cannot install an alternate signal stack: " + why);
    }
    current_slot.store(slot, std::memory_order_release);
}

last_gasp_thread::~last_gasp_thread() {
    current_slot.store(nullptr, std::memory_order_release);
    stack_t restore = previous_;
    restore.ss_flags &= ~SS_ONSTACK;
    ::sigaltstack(&restore, nullptr);
    ::munmap(mapping_, mapping_size_);
}

last_gasp_request::last_gasp_request(const fcgi_request& request) noexcept
    : last_gasp_request(request.connection_fd(), request.request_id(), request.headers_sent_flag()) {}

last_gasp_request::last_gasp_request(int connection, int request_id, const volatile bool* response_started) noexcept
    : connection_(connection),
      request_id_(request_id),
      response_started_(response_started),
      outer_(current_request.load(std::memory_order_relaxed)) {
    current_request.store(this, std::memory_order_release);
}

last_gasp_request::~last_gasp_request() { current_request.store(outer_, std::memory_order_release); }

}  // namespace replug
