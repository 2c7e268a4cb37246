// Messages over a SOCK_SEQPACKET pair: fields come back byte for byte (empty
// ones, newlines, 0xff), fds come back as new fds on the same files, close-
// on-exec; the limits hold exactly and what is over them is refused on
// either end without a truncation and without a leaked fd; a closed peer, a
// deadline and a full buffer each give their own status; a forked process
// talks over its end.
#define BOOST_TEST_MODULE channel
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "channel.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using replug::channel;
using replug::channel_pair;
using replug::channel_status;
using replug::max_message_bytes;
using replug::max_message_fds;
using replug::received;
using replug::unique_fd;

namespace replug {

std::ostream& operator<<(std::ostream& out, channel_status status) {
    switch (status) {
        case channel_status::ok: return out << "ok";
        case channel_status::peer_closed: return out << "peer_closed";
        case channel_status::timed_out: return out << "timed_out";
        case channel_status::failed: return out << "failed";
    }
    return out << "channel_status(" << static_cast<int>(status) << ")";
}

}  // namespace replug

namespace {

std::pair<channel, channel> make_pair() {
    auto pair = channel_pair();
    if (!pair) throw std::runtime_error(pair.reason());
    return std::move(pair.value());
}

unique_fd memfd_with(const std::string& content) {
    unique_fd fd(::memfd_create("channel-test", MFD_CLOEXEC));
    if (!fd) throw std::runtime_error("memfd_create failed");
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        throw std::runtime_error("write to memfd failed");
    return fd;
}

// Everything in the file behind FD, read from its start.
std::string content_of(int fd) {
    std::string content;
    char block[4096];
    for (off_t at = 0;;) {
        ssize_t n = ::pread(fd, block, sizeof block, at);
        if (n <= 0) return content;
        content.append(block, static_cast<std::size_t>(n));
        at += n;
    }
}

std::size_t open_fd_count() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
    return count;
}

// Sends COUNT copies of FD with one byte of data, past the channel's checks.
void send_raw_fds(int socket, int fd, std::size_t count) {
    std::vector<int> fds(count, fd);
    std::vector<unsigned char> control(CMSG_SPACE(sizeof(int) * count));
    char data[] = "x";  // with its NUL: a well-formed one-field message
    iovec vector{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &vector;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* part = CMSG_FIRSTHDR(&msg);
    part->cmsg_level = SOL_SOCKET;
    part->cmsg_type = SCM_RIGHTS;
    part->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(part), fds.data(), sizeof(int) * count);
    if (::sendmsg(socket, &msg, 0) < 0) throw std::runtime_error(std::string("sendmsg: ") + std::strerror(errno));
}

}  // namespace

BOOST_AUTO_TEST_CASE(fields_come_back_byte_for_byte) {
    auto [master, worker] = make_pair();
    std::vector<std::string> fields{"load", "", "two\nlines\r\n", "\xff\xfe\x01", "", "tab\there", ""};
    auto result = master.send(fields, {}, 1s);
    BOOST_TEST_REQUIRE(result.ok(), result.reason);
    auto message = worker.receive(1s);
    BOOST_TEST_REQUIRE(message.status == channel_status::ok, message.reason);
    BOOST_TEST(message.fields == fields);
    BOOST_TEST(message.fds.empty());

    // The other way, and a message of one empty field.
    BOOST_TEST_REQUIRE(worker.send({""}, {}, 1s).ok());
    auto empty = master.receive(1s);
    BOOST_TEST_REQUIRE(empty.status == channel_status::ok, empty.reason);
    BOOST_TEST(empty.fields == std::vector<std::string>{""});
}

BOOST_AUTO_TEST_CASE(messages_keep_their_bounds_and_order) {
    auto [master, worker] = make_pair();
    BOOST_TEST_REQUIRE(master.send({"start"}, {}, 1s).ok());
    BOOST_TEST_REQUIRE(master.send({"load", "a"}, {}, 1s).ok());
    BOOST_TEST_REQUIRE(master.send({"commit"}, {}, 1s).ok());
    BOOST_TEST(worker.receive(1s).fields == std::vector<std::string>{"start"});
    BOOST_TEST(worker.receive(1s).fields == (std::vector<std::string>{"load", "a"}));
    BOOST_TEST(worker.receive(1s).fields == std::vector<std::string>{"commit"});
}

BOOST_AUTO_TEST_CASE(fds_arrive_as_new_fds_on_the_same_files_close_on_exec) {
    auto [master, worker] = make_pair();
    auto first = memfd_with("module one");
    auto second = memfd_with(std::string("module two\0with a NUL", 21));
    BOOST_TEST_REQUIRE(master.send({"load", "/a", "/b"}, {first.get(), second.get()}, 1s).ok());
    // The sender keeps its fds.
    BOOST_TEST(::fcntl(first.get(), F_GETFD) >= 0);

    auto message = worker.receive(1s);
    BOOST_TEST_REQUIRE(message.status == channel_status::ok, message.reason);
    BOOST_TEST_REQUIRE(message.fds.size() == 2u);
    BOOST_TEST(content_of(message.fds[0].get()) == "module one");
    BOOST_TEST(content_of(message.fds[1].get()) == content_of(second.get()));
    for (const auto& fd : message.fds) {
        BOOST_TEST(fd.get() != first.get());
        BOOST_TEST(fd.get() != second.get());
        BOOST_TEST((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    }
    // Written through the received fd, read through the sender's: one file.
    BOOST_TEST(::pwrite(message.fds[0].get(), "M", 1, 0) == 1);
    BOOST_TEST(content_of(first.get()) == "Module one");
}

BOOST_AUTO_TEST_CASE(the_largest_message_and_the_most_fds_pass) {
    auto [master, worker] = make_pair();
    // One field of max - 1 bytes and its NUL: exactly the limit.
    std::string big(max_message_bytes - 1, '\xff');
    auto sent = master.send({big}, {}, 1s);
    BOOST_TEST_REQUIRE(sent.ok(), sent.reason);
    auto message = worker.receive(1s);
    BOOST_TEST_REQUIRE(message.status == channel_status::ok, message.reason);
    BOOST_TEST_REQUIRE(message.fields.size() == 1u);
    BOOST_TEST((message.fields[0] == big));

    auto file = memfd_with("shared");
    std::vector<int> fds(max_message_fds, file.get());
    sent = master.send({"many"}, fds, 1s);
    BOOST_TEST_REQUIRE(sent.ok(), sent.reason);
    message = worker.receive(1s);
    BOOST_TEST_REQUIRE(message.status == channel_status::ok, message.reason);
    BOOST_TEST(message.fds.size() == max_message_fds);
    BOOST_TEST(content_of(message.fds.back().get()) == "shared");
}

BOOST_AUTO_TEST_CASE(the_sender_refuses_what_breaks_a_limit_and_sends_nothing) {
    auto [master, worker] = make_pair();
    auto refused = master.send({std::string(max_message_bytes, 'x')}, {}, 1s);
    BOOST_TEST(refused.status == channel_status::failed);
    BOOST_TEST(refused.reason == "a message of 262145 bytes is over the limit of 262144");

    // The NULs count: two fields of half the limit are one byte over.
    std::string half(max_message_bytes / 2, 'x');
    refused = master.send({half, half.substr(1)}, {}, 1s);
    BOOST_TEST(refused.status == channel_status::failed);

    auto file = memfd_with("x");
    refused = master.send({"many"}, std::vector<int>(max_message_fds + 1, file.get()), 1s);
    BOOST_TEST(refused.status == channel_status::failed);
    BOOST_TEST(refused.reason == "a message with 251 fds is over the limit of 250");

    auto accepted = master.send({"a", "b\0c"}, {}, 1s);  // a C string: "b"
    BOOST_TEST(accepted.ok());
    refused = master.send({"a", std::string("b\0c", 3)}, {}, 1s);
    BOOST_TEST(refused.status == channel_status::failed);
    BOOST_TEST(refused.reason == "field 1 contains a NUL byte");

    refused = master.send({}, {}, 1s);
    BOOST_TEST(refused.status == channel_status::failed);
    BOOST_TEST(refused.reason == "a message needs at least one field");

    // Only the one good message went out.
    BOOST_TEST(worker.receive(1s).fields == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST(worker.receive(0ms).status == channel_status::timed_out);
}

BOOST_AUTO_TEST_CASE(the_receiver_refuses_what_breaks_a_limit_leaks_nothing_and_goes_on) {
    auto [master, worker] = make_pair();
    auto file = memfd_with("x");
    auto before = open_fd_count();

    // A peer that skips the checks: one byte over, then three fds over.
    std::string over(max_message_bytes + 1, '\0');
    BOOST_TEST_REQUIRE(::send(master.fd(), over.data(), over.size(), 0) == static_cast<ssize_t>(over.size()));
    send_raw_fds(master.fd(), file.get(), 253);
    send_raw_fds(master.fd(), file.get(), max_message_fds + 1);
    BOOST_TEST_REQUIRE(master.send({"next"}, {file.get()}, 1s).ok());

    auto too_long = worker.receive(1s);
    BOOST_TEST(too_long.status == channel_status::failed);
    BOOST_TEST(too_long.reason == "refused a message over the limit of 262144 bytes");
    for (int i = 0; i < 2; ++i) {
        auto too_many = worker.receive(1s);
        BOOST_TEST(too_many.status == channel_status::failed);
        BOOST_TEST(too_many.reason.find("over the limit of 250 fds") != std::string::npos, too_many.reason);
        BOOST_TEST(too_many.fds.empty());
    }
    BOOST_TEST(open_fd_count() == before);

    auto next = worker.receive(1s);
    BOOST_TEST_REQUIRE(next.status == channel_status::ok, next.reason);
    BOOST_TEST(next.fields == std::vector<std::string>{"next"});
    BOOST_TEST(next.fds.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_malformed_message_is_refused) {
    auto [master, worker] = make_pair();
    BOOST_TEST_REQUIRE(::send(master.fd(), "no NUL", 6, 0) == 6);
    auto message = worker.receive(1s);
    BOOST_TEST(message.status == channel_status::failed);
    BOOST_TEST(message.reason == "refused a malformed message: it does not end with a NUL");
}

BOOST_AUTO_TEST_CASE(a_closed_peer_is_told_apart_after_its_last_messages) {
    auto [master, worker] = make_pair();
    BOOST_TEST_REQUIRE(worker.send({"committed"}, {}, 1s).ok());
    worker.release();  // closes the worker's end

    BOOST_TEST(master.receive(1s).fields == std::vector<std::string>{"committed"});
    auto closed = master.receive(1s);
    BOOST_TEST(closed.status == channel_status::peer_closed);
    BOOST_TEST(closed.reason == "the other end is closed");
    // Again, and without waiting: the close is not consumed.
    BOOST_TEST(master.receive(0ms).status == channel_status::peer_closed);
    auto sent = master.send({"abort"}, {}, 1s);
    BOOST_TEST(sent.status == channel_status::peer_closed, sent.reason);
}

BOOST_AUTO_TEST_CASE(a_peer_that_closed_with_messages_unread_is_closed_too) {
    auto [master, worker] = make_pair();
    BOOST_TEST_REQUIRE(master.send({"load"}, {}, 1s).ok());
    worker.release();  // dies without reading: the kernel reports ECONNRESET
    auto closed = master.receive(1s);
    BOOST_TEST(closed.status == channel_status::peer_closed, closed.reason);
    auto sent = master.send({"abort"}, {}, 1s);
    BOOST_TEST(sent.status == channel_status::peer_closed, sent.reason);
}

BOOST_AUTO_TEST_CASE(receive_keeps_its_deadline) {
    auto [master, worker] = make_pair();
    auto start = channel::clock::now();
    auto nothing = worker.receive(100ms);
    auto waited = channel::clock::now() - start;
    BOOST_TEST(nothing.status == channel_status::timed_out);
    BOOST_TEST(nothing.reason == "cannot receive: timed out");
    BOOST_TEST(waited >= 100ms);
    BOOST_TEST(waited < 5s);

    // A deadline already passed still takes a message that is waiting.
    BOOST_TEST_REQUIRE(master.send({"start"}, {}, 1s).ok());
    auto waiting = worker.receive(channel::clock::now() - 1s);
    BOOST_TEST(waiting.status == channel_status::ok, waiting.reason);
}

BOOST_AUTO_TEST_CASE(send_to_a_peer_that_reads_nothing_times_out_instead_of_blocking) {
    auto [master, worker] = make_pair();
    std::string chunk(max_message_bytes - 1, 'x');
    channel_status last = channel_status::ok;
    int sent = 0;
    for (; sent < 100 && last == channel_status::ok; ++sent) last = master.send({chunk}, {}, 50ms).status;
    BOOST_TEST(last == channel_status::timed_out);
    BOOST_TEST(sent > 1);
    // Nothing was lost: each message sent is there whole, in order.
    for (int i = 0; i + 1 < sent; ++i) BOOST_TEST(worker.receive(1s).fields.at(0).size() == chunk.size());
    BOOST_TEST(worker.receive(0ms).status == channel_status::timed_out);
}

BOOST_AUTO_TEST_CASE(a_forked_process_talks_over_its_end) {
    auto [master, worker] = make_pair();
    pid_t child = ::fork();
    BOOST_TEST_REQUIRE(child >= 0);
    if (child == 0) {
        master.release();
        auto request = worker.receive(5s);
        bool ok = request.status == channel_status::ok && request.fields.size() == 2 && request.fields[0] == "load";
        auto answer = memfd_with("from the child: " + (ok ? request.fields[1] : std::string("?")));
        worker.send({"prepared", std::to_string(::getpid())}, {answer.get()}, 5s);
        ::_exit(ok ? 0 : 1);
    }
    worker.release();  // the child's end now lives only in the child

    BOOST_TEST_REQUIRE(master.send({"load", "/hello"}, {}, 1s).ok());
    auto answer = master.receive(10s);
    BOOST_TEST_REQUIRE(answer.status == channel_status::ok, answer.reason);
    BOOST_TEST(answer.fields == (std::vector<std::string>{"prepared", std::to_string(child)}));
    BOOST_TEST_REQUIRE(answer.fds.size() == 1u);
    BOOST_TEST(content_of(answer.fds[0].get()) == "from the child: /hello");

    // The child exits: its end closes.
    BOOST_TEST(master.receive(10s).status == channel_status::peer_closed);
    int status = 0;
    BOOST_TEST(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
}
