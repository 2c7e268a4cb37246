// This process and its children as the system sees them: the descriptor
// limit raised at start, and what metrics report (start time, resident
// memory, open descriptors), read from /proc.
#ifndef REPLUG_PROCESS_HPP
#define REPLUG_PROCESS_HPP

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "log.hpp"
#include "unique_fd.hpp"

namespace replug {

// Raises the soft RLIMIT_NOFILE to the hard limit (systemd's default soft
// limit is 1024, its hard one 524288), as nginx's worker_rlimit_nofile and
// systemd's own advice for servers that use no select(). Logs what it did
// at debug; a failure is logged and changes nothing (the server still
// backs off when it runs out, see server.hpp).
void raise_descriptor_limit(const logger& log);

// What the Prometheus process collector calls process_*: PID's start time
// (unix seconds), resident memory (bytes) and open descriptors. nullopt
// when /proc does not say (the process ended, or /proc is not mounted).
struct process_usage {
    std::optional<double> start_time_seconds;
    std::optional<std::uint64_t> resident_bytes;
    std::optional<std::uint64_t> open_descriptors;
    std::optional<std::uint64_t> max_descriptors;  // the soft RLIMIT_NOFILE
};
process_usage read_process_usage(pid_t pid);

// PID's resident memory in bytes, from /proc/PID/statm; nullopt when it is gone.
std::optional<std::uint64_t> resident_bytes(pid_t pid);

// Whether this process has grown past a resident size, as a worker asks
// after each request under --max-rss (against twice the limit). /proc/self/statm stays open and is
// read at most once a millisecond, whichever thread asks: a read costs a
// few microseconds, a request through nginx some tens.
class resident_check {
public:
    resident_check();
    // True when a read now finds the resident size at LIMIT bytes or more;
    // false when LIMIT is 0, another read was less than a millisecond ago,
    // or /proc cannot be read.
    bool over(std::uint64_t limit) noexcept;

private:
    unique_fd statm_;
    std::atomic<std::int64_t> last_read_ns_{0};
};

// The number of CPUs a cgroup v2 cpu.max line allows ("QUOTA PERIOD" in
// microseconds, rounded up), at most CORES and at least 1; CORES when the
// line says "max" (no quota), or "-1" (cgroup v1's way), or cannot be read.
unsigned cpus_allowed(std::string_view cpu_max, unsigned cores);

}  // namespace replug

#endif
