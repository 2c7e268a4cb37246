// This process and its children as the system sees them: the descriptor
// limit raised at start, and what metrics report (start time, resident
// memory, open descriptors), read from /proc.
#ifndef REPLUG_PROCESS_HPP
#define REPLUG_PROCESS_HPP

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "log.hpp"

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

// The number of CPUs a cgroup v2 cpu.max line allows ("QUOTA PERIOD" in
// microseconds, rounded up), at most CORES and at least 1; CORES when the
// line says "max" (no quota), or "-1" (cgroup v1's way), or cannot be read.
unsigned cpus_allowed(std::string_view cpu_max, unsigned cores);

}  // namespace replug

#endif
