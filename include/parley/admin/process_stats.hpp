// The standard `process_*` metrics of Prometheus client libraries, read
// from /proc/self and getrlimit: small fixed buffers, no exceptions. What
// cannot be read (no /proc, say) stays empty and its family is left out.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "parley/admin/prometheus.hpp"

namespace parley::admin {

struct ProcessStats {
  std::optional<double> cpu_seconds;          // user + system, /proc/self/stat
  std::optional<std::uint64_t> resident_bytes;  // /proc/self/statm
  std::optional<std::uint64_t> open_fds;      // entries of /proc/self/fd
  std::optional<std::uint64_t> max_fds;       // RLIMIT_NOFILE, soft
  std::optional<double> start_time_seconds;   // since the epoch: btime + starttime
};

ProcessStats read_process_stats() noexcept;

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_max_fds and process_start_time_seconds, each
// only if it was read.
void write_process_stats(PrometheusWriter& out, const ProcessStats& stats);

// The parts of /proc/self/stat used above, in clock ticks. Exposed for tests:
// the command name in parentheses may hold spaces and parentheses.
struct StatTimes {
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  std::uint64_t starttime = 0;  // since boot
};
std::optional<StatTimes> parse_stat(std::string_view proc_self_stat) noexcept;

}  // namespace parley::admin
