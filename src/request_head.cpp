#include "request_head.hpp"

#include <fastcgi.h>
#include <sys/socket.h>

#include <cerrno>

namespace replug {

namespace {

constexpr std::size_t peek_limit = 64 * 1024;

}  // namespace

head_state classify_request_head(std::string_view buffered, bool full) {
    if (buffered.empty()) return head_state::ready;  // EOF: libfcgi closes it
    std::size_t at = 0;
    bool begun = false;
    while (true) {
        if (buffered.size() - at < FCGI_HEADER_LEN) break;
        auto byte = [&](std::size_t i) { return static_cast<unsigned char>(buffered[at + i]); };
        unsigned type = byte(1);
        std::size_t length = (std::size_t{byte(4)} << 8) | byte(5);
        std::size_t padding = byte(6);
        if (byte(0) != FCGI_VERSION_1) return head_state::ready;  // not FastCGI: let libfcgi refuse it
        if (!begun && type != FCGI_BEGIN_REQUEST) return head_state::ready;  // management record
        begun = true;
        if (type == FCGI_PARAMS && length == 0) return head_state::ready;
        at += FCGI_HEADER_LEN + length + padding;
        if (at > buffered.size()) break;
    }
    return full ? head_state::ready : head_state::incomplete;
}

head_state peek_request_head(int fd) {
    static thread_local char buffer[peek_limit];
    ssize_t n;
    do {
        n = ::recv(fd, buffer, sizeof buffer, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? head_state::incomplete : head_state::ready;
    return classify_request_head(std::string_view(buffer, static_cast<std::size_t>(n)),
                                 static_cast<std::size_t>(n) == sizeof buffer);
}

}  // namespace replug
