// The /metrics page: the hub's counters, the chat state's sizes, the loop's
// lag and utilisation, the build and the process, as Prometheus text 0.0.4.
// Names are `parley_...` in base units, `_total` on counters; no nick or
// channel name is ever a label. Made only when scraped: the hot path only
// increments the counters it reads. A plain function of the hub and the
// loop's numbers (LoopMonitor::stats()): no libuv, so unit tests drive it.
#pragma once

#include <functional>
#include <string>

#include "parley/admin/loop_stats.hpp"
#include "parley/admin/prometheus.hpp"
#include "parley/hub/hub.hpp"

namespace parley {

// `more` writes further families (the backplane's, when parleyd has one).
std::string metrics_text(const Hub& hub, const LoopStats& loop,
                         const std::function<void(admin::PrometheusWriter&)>& more = {});

}  // namespace parley
