#include "parley/admin/loop_monitor.hpp"

#include <algorithm>

namespace parley {

LoopMonitor::LoopMonitor(uv_loop_t* loop) : loop_(loop), lag_(admin::lag_seconds_bounds) {
  uv_timer_init(loop_, &timer_);  // cannot fail: it allocates nothing
  timer_.data = this;
}

bool LoopMonitor::start() {
  window_start_ = uv_hrtime();
  window_idle_ = uv_metrics_idle_time(loop_);
  due_ns_ = window_start_ + interval_ms * 1'000'000;
  if (uv_timer_start(&timer_, on_tick, interval_ms, interval_ms) != 0) return false;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  started_ = true;
  return true;
}

void LoopMonitor::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void LoopMonitor::on_tick(uv_timer_t* timer) {
  LoopMonitor& self = *static_cast<LoopMonitor*>(timer->data);
  const std::uint64_t now = uv_hrtime();
  const std::uint64_t late = now > self.due_ns_ ? now - self.due_ns_ : 0;
  self.lag_.observe(static_cast<double>(late) / 1e9);
  self.due_ns_ = now + interval_ms * 1'000'000;  // a repeating timer re-arms from when it ran
  if (now - self.window_start_ >= 1'000'000'000) self.end_window(now);
}

void LoopMonitor::end_window(std::uint64_t now) {
  const std::uint64_t idle = uv_metrics_idle_time(loop_);
  const double elapsed = static_cast<double>(now - window_start_);
  const double idle_part = static_cast<double>(idle - window_idle_);
  utilization_ = elapsed > 0 ? std::clamp(1.0 - idle_part / elapsed, 0.0, 1.0) : 0;
  window_start_ = now;
  window_idle_ = idle;
}

}  // namespace parley
