#include "parley/parleyd/backplane_metrics.hpp"

namespace parley {

void write_backplane_metrics(admin::PrometheusWriter& w, const cluster::ClusterBackend& backend,
                             const admin::Histogram& latency) {
  using admin::MetricType;
  const cluster::Backplane& bp = backend.backplane();
  const cluster::RedisStats& redis = bp.stats();
  const cluster::ClusterStats& s = backend.stats();
  auto counter = [&w](std::string_view name, std::string_view help, std::uint64_t value) {
    w.family(name, MetricType::counter, help);
    w.sample(value);
  };
  w.family("parley_backplane_up", MetricType::gauge,
           "1 while the connection to the cluster's Redis is up and ready, else 0.");
  w.sample(bp.ready() ? 1 : 0);
  w.family("parley_backplane_command_seconds", MetricType::histogram,
           "Time from sending a backplane command (a function call) to its reply.");
  w.histogram({}, latency);
  counter("parley_backplane_reconnects_total", "Connections to Redis made again after one was lost.",
          redis.connects > 0 ? redis.connects - 1 : 0);
  counter("parley_backplane_timeouts_total", "Backplane commands that timed out (the connection is then made again).",
          redis.timeouts);
  counter("parley_backplane_unavailable_total", "Requests answered unavailable because the backplane could not take them.",
          s.unavailable);
  counter("parley_backplane_gap_repairs_total", "Holes in a channel's seq filled from its history.", s.gap_repairs);
  counter("parley_backplane_gaps_sent_total", "gap events sent (once per channel and range, not per member).",
          s.gaps_sent);
  counter("parley_backplane_lease_lost_total", "Times this server found the others had declared it lost.",
          s.lease_lost);
}

}  // namespace parley
