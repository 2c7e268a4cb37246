// Writing a whole buffer to a file descriptor, whatever short writes and
// interrupted calls do on the way: replugd's log lines, the loader's private
// copies, replugctl's requests.
#ifndef REPLUG_WRITE_ALL_HPP
#define REPLUG_WRITE_ALL_HPP

#include <cstddef>
#include <string_view>

namespace replug {

// Writes all of DATA to FD, again after EINTR and after a short write. A
// socket is written with MSG_NOSIGNAL: a peer that has gone is an error
// (EPIPE), never a SIGPIPE. The value is the number of bytes written: DATA's
// size, or less when a write failed (errno says why) or wrote nothing.
std::size_t write_all(int fd, std::string_view data);

}  // namespace replug

#endif
