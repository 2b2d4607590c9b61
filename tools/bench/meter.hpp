// Samples CPU and memory at the start and end of a measured window: the
// servers' (when their PIDs are known), the loader's own, and the whole
// machine's, so a run can say when something else was using the CPUs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "result.hpp"

namespace parley::bench {

class Meter {
 public:
  explicit Meter(std::vector<pid_t> server_pids) : server_pids_(std::move(server_pids)) {}
  void start();
  // Fills the CPU and memory fields of `result` for the window since start():
  // the servers' CPU and RSS are summed over every process read at both ends
  // (one that exited meanwhile, such as a drained instance, is left out).
  void stop(Result& result);
  bool started() const { return started_; }

 private:
  std::vector<pid_t> server_pids_;
  bool started_ = false;
  std::vector<std::optional<std::uint64_t>> server_cpu_ns_;  // per process, at start()
  std::uint64_t loader_cpu_ns_ = 0, machine_ns_ = 0;
};

// The RSS of these processes, summed (those that can be read); nullopt when
// none can.
std::optional<std::uint64_t> total_rss_bytes(const std::vector<pid_t>& pids);

}  // namespace parley::bench
