// How the event loop is doing, for /metrics: the lag of a timer that should
// fire every `interval_ms` (how late it fires is how long something held the
// loop), and the share of time the loop was busy rather than waiting in
// epoll (libuv's idle-time metric; the loop must be configured with
// UV_METRICS_IDLE_TIME before it runs).
#pragma once

#include <uv.h>

#include <cstdint>

#include "parley/admin/histogram.hpp"

namespace parley {

class LoopMonitor {
 public:
  static constexpr std::uint64_t interval_ms = 100;

  explicit LoopMonitor(uv_loop_t* loop);
  LoopMonitor(const LoopMonitor&) = delete;
  LoopMonitor& operator=(const LoopMonitor&) = delete;

  // Starts the timer (unreferenced: it never keeps a drained loop alive).
  bool start();
  void close();

  const admin::Histogram& lag() const { return lag_; }
  // Busy share of the loop's time since the previous call (the previous
  // scrape), from 0 to 1; since start on the first call.
  double utilization();

 private:
  static void on_tick(uv_timer_t* timer);

  uv_loop_t* loop_;
  uv_timer_t timer_;
  admin::Histogram lag_;
  std::uint64_t due_ns_ = 0;        // when the next tick should come (uv_hrtime)
  std::uint64_t last_hrtime_ = 0;   // at the previous utilization()
  std::uint64_t last_idle_ns_ = 0;
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace parley
