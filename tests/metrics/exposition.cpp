// Prints a sample /metrics exposition with every kind of family the writer
// has (counters with and without labels, gauges with escaped labels and
// special values, histograms with and without labels) and the process
// stats; tests/metrics/check-metrics has the real promtool judge it. Exits
// 1 if the writer counted any misuse.
#include <cstdio>
#include <limits>

#include "parley/admin/histogram.hpp"
#include "parley/admin/process_stats.hpp"
#include "parley/admin/prometheus.hpp"

using namespace parley::admin;

int main() {
  PrometheusWriter w;
  w.family("parley_connections_accepted_total", MetricType::counter, "Connections accepted.");
  w.sample(1234);
  w.family("parley_connections_closed_total", MetricType::counter, "Connections closed, by reason.");
  w.sample({{"reason", "eof"}}, 1200);
  w.sample({{"reason", "slow_consumer"}}, 3);
  w.sample({{"reason", "idle_timeout"}}, 0);
  w.family("parley_sessions", MetricType::gauge, "Sessions open now.");
  w.sample({{"transport", "line"}}, 31);
  w.family("parley_listeners", MetricType::gauge, "Listening addresses; help with a \\ and a\nnewline.");
  w.sample({{"address", "127.0.0.1:7000"}}, 1);
  w.sample({{"address", "/tmp/odd \"quoted\" \\ path\nnext"}}, 1);
  w.family("parley_exposition_special_values", MetricType::gauge, "Values the text format spells as words.");
  w.sample({{"value", "nan"}}, std::numeric_limits<double>::quiet_NaN());
  w.sample({{"value", "plus_inf"}}, std::numeric_limits<double>::infinity());
  w.sample({{"value", "minus_inf"}}, -std::numeric_limits<double>::infinity());
  w.sample({{"value", "small"}}, 1.5e-7);

  Histogram lag(lag_seconds_bounds);
  for (double v : {0.0004, 0.001, 0.003, 0.04, 0.7, 9.0}) lag.observe(v);
  w.family("parley_event_loop_lag_seconds", MetricType::histogram, "How late the event loop ran its timer.");
  w.histogram({}, lag);
  Histogram say(lag_seconds_bounds), join(lag_seconds_bounds);
  say.observe(0.002);
  w.family("parley_request_duration_seconds", MetricType::histogram, "Time from request to reply, by command.");
  w.histogram({{"command", "say"}}, say);
  w.histogram({{"command", "join"}}, join);

  write_process_stats(w, read_process_stats());
  std::fwrite(w.text().data(), 1, w.text().size(), stdout);
  return w.misuses() == 0 ? 0 : 1;
}
