#include "log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "text.hpp"
#include "write_all.hpp"

namespace replug {

std::string_view level_name(log_level level) {
    switch (level) {
        case log_level::error: return "error";
        case log_level::warn: return "warn";
        case log_level::info: return "info";
        case log_level::debug: return "debug";
    }
    return "info";
}

namespace {

std::string utc_timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t seconds = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  static_cast<int>(millis));
    return text;
}

}  // namespace

std::optional<log_level> parse_log_level(std::string_view name) {
    for (auto level : {log_level::error, log_level::warn, log_level::info, log_level::debug})
        if (level_name(level) == name) return level;
    return std::nullopt;
}

std::string printable(std::string_view text, std::size_t limit) {
    std::string out;
    for (unsigned char c : text.substr(0, limit)) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > limit) out += "...";
    return out;
}

bool is_journal_stream(int fd) {
    const char* named = std::getenv("JOURNAL_STREAM");
    if (!named) return false;
    std::string_view text(named);
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    auto device = parse_decimal(text.substr(0, colon));
    auto inode = parse_decimal(text.substr(colon + 1));
    struct stat file {};
    if (!device || !inode || ::fstat(fd, &file) != 0) return false;
    return static_cast<std::uint64_t>(file.st_dev) == *device && static_cast<std::uint64_t>(file.st_ino) == *inode;
}

std::string journal_prefix(log_level level) {
    return "<" + std::to_string(static_cast<int>(level)) + ">";
}

logger::logger(log_level level) : level_(level), to_journal_(is_journal_stream(STDERR_FILENO)) {}

void logger::write(log_level level, std::string_view message) const {
    std::string line = to_journal_ ? journal_prefix(level) : utc_timestamp();
    line += level_name(level);
    line += ' ';
    line += message;
    line += '\n';
    write_all(STDERR_FILENO, line);
}

}  // namespace replug
