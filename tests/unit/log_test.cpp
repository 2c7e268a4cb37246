// The log's journald mode: priority prefixes only when stderr really is the
// journal stream JOURNAL_STREAM names (systemd.exec(5)).
#define BOOST_TEST_MODULE log
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "log.hpp"

namespace {

std::string device_and_inode(int fd) {
    struct stat file {};
    ::fstat(fd, &file);
    return std::to_string(file.st_dev) + ":" + std::to_string(file.st_ino);
}

// What a logger made with JOURNAL_STREAM=STREAM writes to stderr (a temp file).
std::string logged_with(const std::string& stream, bool stream_is_stderr) {
    char path[] = "/tmp/replug-log-test-XXXXXX";
    int file = ::mkstemp(path);
    ::unlink(path);
    int saved = ::dup(STDERR_FILENO);
    ::dup2(file, STDERR_FILENO);
    ::setenv("JOURNAL_STREAM", stream_is_stderr ? device_and_inode(STDERR_FILENO).c_str() : stream.c_str(), 1);
    {
        replug::logger log(replug::log_level::debug);
        log.error("broken");
        log.warn("careful");
        log.info("fine");
        log.debug("detail");
    }
    ::unsetenv("JOURNAL_STREAM");
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::string text(4096, '\0');
    auto n = ::pread(file, text.data(), text.size(), 0);
    ::close(file);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_journal_gets_priority_prefixes) {
    BOOST_TEST(logged_with("", true) == "<3>error broken\n<4>warn careful\n<6>info fine\n<7>debug detail\n");
}

BOOST_AUTO_TEST_CASE(another_file_gets_timestamps_and_no_prefix) {
    for (const std::string stream : {"1:1", "garbage", "12:", ":34", ""}) {
        auto text = logged_with(stream, false);
        BOOST_TEST(text.find('<') == std::string::npos, stream);
        BOOST_TEST(text.find("Z error broken\n") != std::string::npos, stream);
    }
}

BOOST_AUTO_TEST_CASE(is_journal_stream_compares_device_and_inode) {
    int file = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::setenv("JOURNAL_STREAM", device_and_inode(file).c_str(), 1);
    BOOST_TEST(replug::is_journal_stream(file));
    BOOST_TEST(!replug::is_journal_stream(-1));
    ::unsetenv("JOURNAL_STREAM");
    BOOST_TEST(!replug::is_journal_stream(file));
    ::close(file);
    BOOST_TEST(replug::journal_prefix(replug::log_level::error) == "<3>");
    BOOST_TEST(replug::journal_prefix(replug::log_level::debug) == "<7>");
}
