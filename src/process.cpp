#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "text.hpp"

namespace replug {

void raise_descriptor_limit(const logger& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur >= limit.rlim_max) {
        log.debug("descriptor limit (RLIMIT_NOFILE) ", limit.rlim_cur, ", the hard limit already");
        return;
    }
    auto soft = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        log.warn("could not raise the descriptor limit (RLIMIT_NOFILE) from ", soft, " to ", limit.rlim_max, ": ",
                 std::strerror(errno));
        return;
    }
    log.debug("descriptor limit (RLIMIT_NOFILE) raised from ", soft, " to ", limit.rlim_max, " (the hard limit)");
}

namespace {

std::string proc_path(pid_t pid, const char* what) { return "/proc/" + std::to_string(pid) + "/" + what; }

// The resident size in bytes from a statm line ("SIZE RESIDENT SHARED ..." in pages).
std::optional<std::uint64_t> resident_in_statm(std::string_view text) {
    const char* end = text.data() + text.size();
    std::uint64_t size = 0, resident = 0;
    auto first = std::from_chars(text.data(), end, size);
    if (first.ec != std::errc{} || first.ptr == end) return std::nullopt;
    if (std::from_chars(first.ptr + 1, end, resident).ec != std::errc{}) return std::nullopt;
    static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    return resident * page;
}

// Field N (1-based, as proc(5) numbers them) of /proc/PID/stat; the command
// name in parentheses may hold spaces, so counting starts after its ')'.
std::optional<std::uint64_t> stat_field(pid_t pid, int n) {
    std::ifstream file(proc_path(pid, "stat"));
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto name_end = text.rfind(')');
    if (name_end == std::string::npos || name_end + 2 > text.size()) return std::nullopt;
    std::istringstream rest(text.substr(name_end + 2));
    std::string field;
    for (int i = 3; rest >> field; ++i)
        if (i == n) return parse_decimal(field);
    return std::nullopt;
}

std::optional<std::uint64_t> boot_time_seconds() {
    std::ifstream file("/proc/stat");
    std::string key;
    std::uint64_t value;
    while (file >> key) {
        if (key == "btime" && file >> value) return value;
        file.ignore(1 << 20, '\n');
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> resident_bytes(pid_t pid) {
    std::ifstream statm(proc_path(pid, "statm"));
    std::string line;
    if (!std::getline(statm, line)) return std::nullopt;
    return resident_in_statm(line);
}

resident_check::resident_check() : statm_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) {}

bool resident_check::over(std::uint64_t limit) noexcept {
    if (limit == 0 || !statm_) return false;
    std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
    std::int64_t last = last_read_ns_.load(std::memory_order_relaxed);
    if (now - last < 1'000'000 || !last_read_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed))
        return false;  // read a moment ago, or another thread reads it now
    char text[128];
    ssize_t got = ::pread(statm_.get(), text, sizeof text, 0);
    if (got <= 0) return false;
    auto resident = resident_in_statm({text, static_cast<std::size_t>(got)});
    return resident && *resident >= limit;
}

process_usage read_process_usage(pid_t pid) {
    process_usage usage;
    auto ticks = stat_field(pid, 22);  // starttime, in clock ticks after boot
    auto boot = boot_time_seconds();
    long per_second = ::sysconf(_SC_CLK_TCK);
    if (ticks && boot && per_second > 0)
        usage.start_time_seconds = static_cast<double>(*boot) + static_cast<double>(*ticks) / static_cast<double>(per_second);
    usage.resident_bytes = resident_bytes(pid);
    if (DIR* fds = ::opendir(proc_path(pid, "fd").c_str())) {
        std::uint64_t count = 0;
        while (auto* entry = ::readdir(fds))
            if (entry->d_name[0] != '.') ++count;
        ::closedir(fds);
        usage.open_descriptors = pid == ::getpid() ? count - 1 : count;  // not the one opendir holds
    }
    rlimit limit{};
    if (::prlimit(pid, RLIMIT_NOFILE, nullptr, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        usage.max_descriptors = limit.rlim_cur;
    return usage;
}

unsigned cpus_allowed(std::string_view cpu_max, unsigned cores) {
    cores = std::max(1u, cores);
    std::istringstream line{std::string(cpu_max)};
    std::string quota_text;
    double period = 0;
    if (!(line >> quota_text >> period) || quota_text == "max" || !(period > 0)) return cores;
    auto quota = parse_decimal(quota_text);
    if (!quota) return cores;
    double cpus = static_cast<double>(*quota) / period;
    return std::clamp(static_cast<unsigned>(std::ceil(cpus)), 1u, cores);
}

}  // namespace replug
