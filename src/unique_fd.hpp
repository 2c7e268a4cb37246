// A file descriptor that closes itself: the one owner of every fd the server
// opens (sockets, epoll, eventfd, timerfd, inotify, memfd, module files).
#ifndef REPLUG_UNIQUE_FD_HPP
#define REPLUG_UNIQUE_FD_HPP

#include <unistd.h>

#include <utility>

namespace replug {

class unique_fd {
public:
    unique_fd() = default;
    // Takes ownership of FD; a negative FD (a failed open) owns nothing.
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    // Closes what it owns and takes FD instead.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace replug

#endif
