// One line per event, to stderr, so that a terminal and journald both read it:
//   2026-11-27T10:00:00.123Z info reload route=/x module=x 1 -> 2 load=0.31ms
// When stderr is the journal (JOURNAL_STREAM names stderr's device and
// inode, as systemd.exec(5) describes), the timestamp is left to journald
// and each line starts with its syslog priority, "<3>error ...", so that
// journald stores it at that priority (without a prefix: info).
#ifndef REPLUG_LOG_HPP
#define REPLUG_LOG_HPP

#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "replug/module.hpp"  // log_level: the SDK's levels are the server's

namespace replug {

std::optional<log_level> parse_log_level(std::string_view name);
// "error", "warn", "info", "debug".
std::string_view level_name(log_level level);

// TEXT with control characters and quotes escaped (\n, \x1b, \") and cut to
// LIMIT bytes: for values from requests, which must not forge log lines.
std::string printable(std::string_view text, std::size_t limit = 256);

// True when JOURNAL_STREAM ("DEVICE:INODE", in decimal) names the file FD is
// open on: a service's stderr connected to journald. False when it is unset,
// malformed, or names another file (stderr redirected by a child's parent).
bool is_journal_stream(int fd);

// "<N>" for LEVEL's syslog priority: what journald reads at a line's start.
std::string journal_prefix(log_level level);

class logger {
public:
    explicit logger(log_level level = log_level::info);

    void set_level(log_level level) { level_.store(level, std::memory_order_relaxed); }
    bool enabled(log_level level) const {
        return level <= level_.load(std::memory_order_relaxed);
    }
    // Writes one line with a single write(2), so lines from threads never mix.
    void write(log_level level, std::string_view message) const;

    template <typename... Parts>
    void error(const Parts&... parts) const { emit(log_level::error, parts...); }
    template <typename... Parts>
    void warn(const Parts&... parts) const { emit(log_level::warn, parts...); }
    template <typename... Parts>
    void info(const Parts&... parts) const { emit(log_level::info, parts...); }
    template <typename... Parts>
    void debug(const Parts&... parts) const { emit(log_level::debug, parts...); }
    template <typename... Parts>
    void at(log_level level, const Parts&... parts) const { emit(level, parts...); }

private:
    template <typename... Parts>
    void emit(log_level level, const Parts&... parts) const {
        if (!enabled(level)) return;
        std::ostringstream line;
        (line << ... << parts);
        write(level, line.str());
    }

    std::atomic<log_level> level_;
    bool to_journal_;  // stderr is the journal: priority prefixes, no timestamps
};

}  // namespace replug

#endif
