// The event loop's numbers for /metrics, as plain values: LoopMonitor
// (loop_monitor.hpp, the libuv side) fills them in when /metrics is
// scraped, and metrics_text() reads them, so the page and its tests need no
// loop.
#pragma once

#include "parley/admin/histogram.hpp"

namespace parley {

struct LoopStats {
  admin::Histogram lag{admin::lag_seconds_bounds};  // how late the monitor's timer fired, in seconds
  double utilization = 0;   // busy share of the last whole second, from 0 to 1
  double idle_seconds = 0;  // waiting for I/O since the loop started (a counter)
};

}  // namespace parley
