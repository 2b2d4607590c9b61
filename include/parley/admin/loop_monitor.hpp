// How the event loop is doing, for /metrics: the lag of a timer that should
// fire every `interval_ms` (how late it fires is how long something held the
// loop), and the share of time the loop was busy rather than waiting in
// epoll (libuv's idle-time metric; the loop must be configured with
// UV_METRICS_IDLE_TIME before it runs). The libuv side only: stats() hands
// the numbers to metrics_text() as a plain LoopStats.
#pragma once

#include <uv.h>

#include <cstdint>

#include "parley/admin/histogram.hpp"
#include "parley/admin/loop_stats.hpp"

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

  // The lag so far; the busy share over the last whole second (the same for
  // every scraper, however many there are); the seconds the loop has spent
  // waiting for I/O since it started, for rate(). A copy, made per scrape.
  LoopStats stats() const {
    return {lag_, utilization_, static_cast<double>(uv_metrics_idle_time(loop_)) / 1e9};
  }

 private:
  static void on_tick(uv_timer_t* timer);

  uv_loop_t* loop_;
  uv_timer_t timer_;
  admin::Histogram lag_;
  void end_window(std::uint64_t now);

  std::uint64_t due_ns_ = 0;        // when the next tick should come (uv_hrtime)
  std::uint64_t window_start_ = 0;  // uv_hrtime when the current second began
  std::uint64_t window_idle_ = 0;   // idle time then
  double utilization_ = 0;
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace parley
