// Readings from /proc: a process's CPU time and resident memory, the
// loader's own CPU time, and how busy all CPUs were (to tell when something
// else used the machine during a run).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace parley::bench {

struct ProcessSample {
  std::uint64_t cpu_ns = 0;  // user + system, all threads
  std::uint64_t rss_bytes = 0;
};

std::optional<ProcessSample> sample_process(pid_t pid);
std::uint64_t own_cpu_ns();
// CPU time all CPUs spent running processes (not interrupts), since boot.
std::uint64_t machine_busy_ns();
std::uint64_t monotonic_ns();

}  // namespace parley::bench
