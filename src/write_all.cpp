#include "write_all.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace replug {

std::size_t write_all(int fd, std::string_view data) {
    bool socket = true;  // until send(2) says otherwise: then write(2)
    std::size_t done = 0;
    while (done < data.size()) {
        const char* from = data.data() + done;
        std::size_t left = data.size() - done;
        ssize_t n = socket ? ::send(fd, from, left, MSG_NOSIGNAL) : ::write(fd, from, left);
        if (n < 0 && socket && errno == ENOTSOCK) {
            socket = false;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

}  // namespace replug
