// Whether a connection's request head (FCGI_BEGIN_REQUEST and its params, up
// to the empty PARAMS record) has arrived whole, and whether it is safe to
// give to libfcgi. A worker hands a connection to libfcgi, whose reads
// block, only when it has: a client that sends its head slowly waits in the
// server's slow list instead of holding a worker thread.
//
// libfcgi 2.4 trusts what it reads. A name-value length near 2^31 makes it
// malloc that much (and write through NULL when malloc fails), and every
// management record other than FCGI_GET_VALUES leaks 48 bytes. So the head
// is checked here first, on a peek, record by record as libfcgi will read it.
#ifndef REPLUG_REQUEST_HEAD_HPP
#define REPLUG_REQUEST_HEAD_HPP

#include <cstddef>
#include <string_view>

namespace replug {

// The largest request head accepted (all params records together).
inline constexpr std::size_t max_request_head = 128 * 1024;

enum class head_state {
    ready,       // serve it: a whole, sound head; or EOF or bytes that libfcgi refuses by itself
    incomplete,  // wait for more bytes
    rejected,    // close it unserved: a management record, a name-value pair longer than the
                 // params that carry it, or a head larger than max_request_head. Front servers
                 // send none of these.
    closed,      // the client closed it with nothing pending (nginx dropping an idle
                 // keep-alive connection): close it, no need for libfcgi to find out.
};

// Classifies the bytes BUFFERED so far; FULL says the peek filled its
// buffer; PEER_CLOSED says no more bytes will come (the client shut down its
// side), so what is there is what libfcgi will read. Never incomplete when
// PEER_CLOSED.
head_state classify_request_head(std::string_view buffered, bool full, bool peer_closed);

// Peeks (never consumes) at FD and classifies what is there.
head_state peek_request_head(int fd, bool peer_closed);

}  // namespace replug

#endif
