// Samples CPU and memory at the start and end of a measured window: the
// server's (when its PID is known), the loader's own, and the whole
// machine's, so a run can say when something else was using the CPUs.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "result.hpp"

namespace parley::bench {

class Meter {
 public:
  explicit Meter(pid_t server_pid) : server_pid_(server_pid) {}
  void start();
  // Fills the CPU and memory fields of `result` for the window since start().
  void stop(Result& result);
  bool started() const { return started_; }

 private:
  pid_t server_pid_;
  bool started_ = false;
  std::uint64_t server_cpu_ns_ = 0, loader_cpu_ns_ = 0, machine_ns_ = 0;
};

}  // namespace parley::bench
