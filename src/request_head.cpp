#include "request_head.hpp"

#include <fastcgi.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>

namespace replug {

namespace {

// Every pair's lengths fit inside the params that carry it. With PREFIX,
// PARAMS is what libfcgi reads before it meets an error that ends the
// request: a pair may then be cut short, but no length libfcgi would
// allocate for may exceed max_request_head.
bool sound_params(std::string_view params, bool prefix = false) {
    std::size_t at = 0;
    auto length = [&](std::size_t& out) {
        if (at >= params.size()) return false;
        auto first = static_cast<unsigned char>(params[at]);
        if (first < 0x80) {
            out = first;
            at += 1;
            return true;
        }
        if (params.size() - at < 4) return false;
        out = (std::size_t{first & 0x7fu} << 24) | (std::size_t{static_cast<unsigned char>(params[at + 1])} << 16) |
              (std::size_t{static_cast<unsigned char>(params[at + 2])} << 8) |
              static_cast<unsigned char>(params[at + 3]);
        at += 4;
        return true;
    };
    while (at < params.size()) {
        std::size_t name = 0, value = 0;
        if (!length(name) || !length(value)) return prefix;
        if (prefix) {
            if (name + value > max_request_head) return false;
        } else if (name > params.size() - at || value > params.size() - at - name) {
            return false;
        }
        at += name + value;
    }
    return true;
}

}  // namespace

head_state classify_request_head(std::string_view buffered, bool full, bool peer_closed) {
    if (buffered.empty()) return head_state::ready;  // EOF: libfcgi closes it
    // Walks the records as FCGX_Accept_r reads them: before BEGIN_REQUEST it
    // skips other records; it does not skip BEGIN_REQUEST's padding (the
    // params reader starts right after its 8-byte body); then it collects
    // PARAMS of that request id until an empty one, skipping other ids.
    std::string params;
    // libfcgi stops with an error here, after reading PARAMS so far.
    auto refused_by_libfcgi = [&] { return sound_params(params, true) ? head_state::ready : head_state::rejected; };
    std::size_t at = 0;
    unsigned request = 0;  // the BEGIN_REQUEST's id, once seen
    while (at + FCGI_HEADER_LEN <= buffered.size()) {
        auto byte = [&](std::size_t i) { return static_cast<unsigned char>(buffered[at + i]); };
        unsigned type = byte(1);
        unsigned id = (unsigned{byte(2)} << 8) | byte(3);
        std::size_t length = (std::size_t{byte(4)} << 8) | byte(5);
        std::size_t padding = byte(6);
        if (byte(0) != FCGI_VERSION_1) return refused_by_libfcgi();
        if (id == FCGI_NULL_REQUEST_ID) return head_state::rejected;
        if (request == 0 && type == FCGI_BEGIN_REQUEST) {
            if (length != sizeof(FCGI_BeginRequestBody)) return head_state::ready;  // refused before any params
            request = id;
            at += FCGI_HEADER_LEN + length;  // its padding is read as the next header
            continue;
        }
        if (request != 0 && id == request && type == FCGI_PARAMS) {
            if (length == 0) return sound_params(params) ? head_state::ready : head_state::rejected;
            params.append(buffered.substr(at + FCGI_HEADER_LEN, length));  // all of it that is here
        } else if (request != 0 && id == request && type != FCGI_BEGIN_REQUEST) {
            return refused_by_libfcgi();  // another stream before the params ended
        }
        at += FCGI_HEADER_LEN + length + padding;  // skipped, as libfcgi skips it
    }
    if (full) return head_state::rejected;
    return peer_closed ? refused_by_libfcgi() : head_state::incomplete;
}

head_state peek_request_head(int fd, bool peer_closed) {
    // Most heads fit the stack buffer; a larger one is peeked again whole.
    char small[16 * 1024];
    std::unique_ptr<char[]> large;
    char* buffer = small;
    std::size_t size = sizeof small;
    while (true) {
        ssize_t n = ::recv(fd, buffer, size, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            bool later = (errno == EAGAIN || errno == EWOULDBLOCK) && !peer_closed;
            return later ? head_state::incomplete : head_state::ready;  // libfcgi meets the error and closes
        }
        if (n == 0) return head_state::closed;
        bool full = static_cast<std::size_t>(n) == size;
        auto state = classify_request_head(std::string_view(buffer, static_cast<std::size_t>(n)), full, peer_closed);
        if (!full || buffer != small || state != head_state::rejected) return state;
        size = max_request_head + 1024;
        large = std::make_unique<char[]>(size);
        buffer = large.get();
    }
}

}  // namespace replug
