// A client stream socket, to a unix socket path or a TCP host and port,
// where every operation gives up at one deadline: replugctl never hangs on
// a server that accepts and then says nothing.
#ifndef REPLUG_CTL_CONNECTION_HPP
#define REPLUG_CTL_CONNECTION_HPP

#include <string>
#include <string_view>

#include "ctl/admin_call.hpp"
#include "outcome.hpp"
#include "unique_fd.hpp"

namespace replug::ctl {

class connection {
public:
    // NAME is how errors refer to the peer ("unix:/run/replug/replugd.sock").
    static outcome<connection> to_unix(const std::string& path, std::string name, deadline until);
    // HOST may be a name, an IPv4 or an IPv6 address (without brackets);
    // every address it resolves to is tried in order.
    static outcome<connection> to_tcp(const std::string& host, const std::string& port, std::string name,
                                      deadline until);

    // Sends all of DATA; the value is the number of bytes sent.
    outcome<std::size_t> send_all(std::string_view data);
    // Appends what arrives next to BUFFER; the value is false at the end of
    // the stream (the peer closed), true otherwise.
    outcome<bool> receive(std::string& buffer);

private:
    connection(unique_fd fd, std::string name, deadline until);
    // Sets the socket's send and receive timeouts to the time left; false
    // when none is left.
    bool arm();
    failure timed_out() const;

    unique_fd fd_;
    std::string name_;
    deadline until_;
};

}  // namespace replug::ctl

#endif
