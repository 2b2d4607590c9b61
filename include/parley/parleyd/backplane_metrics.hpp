// The backplane's part of /metrics (docs/operations.md lists the names):
// written by parleyd, which alone sees both the cluster backend and the
// admin pages' writer.
#pragma once

#include "parley/admin/histogram.hpp"
#include "parley/admin/prometheus.hpp"
#include "parley/cluster/cluster_backend.hpp"

namespace parley {

// Seconds, for one backplane command: 0.1 ms to 2 s.
inline constexpr std::array<double, 13> backplane_seconds_bounds{
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 2};

void write_backplane_metrics(admin::PrometheusWriter& w, const cluster::ClusterBackend& backend,
                             const admin::Histogram& latency);

}  // namespace parley
