// Whether a connection has a whole request head (FCGI_BEGIN_REQUEST and its
// params, up to the empty PARAMS record) waiting in the socket buffer. A
// worker hands a connection to libfcgi, which reads with blocking read(),
// only when it does: a client that sends its head slowly waits in the
// server's slow list instead of holding a worker thread.
#ifndef REPLUG_REQUEST_HEAD_HPP
#define REPLUG_REQUEST_HEAD_HPP

#include <cstddef>
#include <string_view>

namespace replug {

enum class head_state {
    ready,       // serve it now (complete head, or something libfcgi must see: EOF, garbage, a management record)
    incomplete,  // wait for more bytes
};

// Classifies the bytes BUFFERED so far; FULL says the peek filled its buffer
// (a head larger than that is handed over as it is).
head_state classify_request_head(std::string_view buffered, bool full);

// Peeks (never consumes) at FD and classifies what is there.
head_state peek_request_head(int fd);

}  // namespace replug

#endif
