#include "parley/admin/metrics_text.hpp"

#include "parley/admin/process_stats.hpp"
#include "parley/admin/prometheus.hpp"
#include "parley_version.h"

namespace parley {
namespace {

using admin::MetricType;
using admin::PrometheusWriter;

void counter(PrometheusWriter& w, std::string_view name, std::string_view help, std::uint64_t value) {
  w.family(name, MetricType::counter, help);
  w.sample(value);
}

void gauge(PrometheusWriter& w, std::string_view name, std::string_view help, admin::Number value) {
  w.family(name, MetricType::gauge, help);
  w.sample(value);
}

void connections(PrometheusWriter& w, const HubCounters& c) {
  w.family("parley_connections_open", MetricType::gauge, "Client connections open now, by transport.");
  for (std::size_t t = 0; t < transport_kind_count; ++t)
    w.sample({{"transport", transport_name(static_cast<TransportKind>(t))}}, c.open[t]);
  counter(w, "parley_connections_accepted_total", "Client connections accepted.", c.accepted);
  counter(w, "parley_connections_refused_total",
          "Client connections refused at admission (server_full, shutting_down).", c.refused);
  w.family("parley_connections_closed_total", MetricType::counter, "Client connections closed, by reason.");
  for (std::size_t r = 0; r < close_reason_count; ++r)
    w.sample({{"reason", name(static_cast<CloseReason>(r))}}, c.closed[r]);
}

// Every command's `ok`, and each error a command was answered with.
void requests(PrometheusWriter& w, const HubCounters& c) {
  w.family("parley_requests_total", MetricType::counter, "Requests answered, by command and result (ok or the error code).");
  for (std::size_t k = 0; k < command_kind_count; ++k) {
    const std::string_view command = command_name(static_cast<CommandKind>(k));
    if (k != 0) w.sample({{"command", command}, {"result", "ok"}}, c.requests[k][0]);
    for (std::size_t e = 0; e < error_code_count; ++e)
      if (const std::uint64_t n = c.requests[k][1 + e])
        w.sample({{"command", command}, {"result", to_string(static_cast<ErrorCode>(e))}}, n);
  }
}

std::uint64_t rate_limited(const HubCounters& c) {
  std::uint64_t n = 0;
  for (const auto& by_result : c.requests) n += by_result[1 + static_cast<std::size_t>(ErrorCode::rate_limited)];
  return n;
}

}  // namespace

std::string metrics_text(const Hub& hub, const LoopStats& loop,
                         const std::function<void(admin::PrometheusWriter&)>& more) {
  const HubCounters& c = hub.counters();
  PrometheusWriter w;
  w.family("parley_build_info", MetricType::gauge, "The server's version, as a label; always 1.");
  w.sample({{"version", PARLEY_VERSION}}, 1);
  connections(w, c);
  requests(w, c);
  counter(w, "parley_lines_received_total", "Request lines received.", c.lines_in);
  counter(w, "parley_received_bytes_total", "Bytes read from clients.", c.bytes_in);
  counter(w, "parley_lines_sent_total", "Lines queued for clients (replies and events).", c.lines_out);
  counter(w, "parley_sent_bytes_total", "Bytes queued for clients.", c.bytes_out);
  counter(w, "parley_deliveries_total", "Events queued for a recipient, one per recipient per event.", c.deliveries);
  counter(w, "parley_slow_consumers_total", "Clients dropped for not reading their output (slow_consumer).",
          c.closed[static_cast<std::size_t>(CloseReason::slow_consumer)]);
  counter(w, "parley_rate_limited_total", "Requests refused by the per-connection rate limit.", rate_limited(c));
  const ChatSizes sizes = hub.backend().sizes();
  gauge(w, "parley_users", "Registered users.", sizes.users);
  gauge(w, "parley_channels", "Channels.", sizes.channels);
  gauge(w, "parley_sessions_held", "Sessions whose connection closed, held for a resume (--resume-grace).", sizes.held);
  gauge(w, "parley_draining", "1 while the server drains, else 0.", hub.draining() ? 1 : 0);
  gauge(w, "parley_ready", "1 while /readyz answers 200, else 0.", hub.readiness().ready ? 1 : 0);
  w.family("parley_event_loop_lag_seconds", MetricType::histogram,
           "How late a 100 ms timer fires: how long something held the event loop.");
  w.histogram({}, loop.lag);
  gauge(w, "parley_event_loop_utilization_ratio",
        "Share of the event loop's time spent working rather than waiting, over the last second.",
        loop.utilization);
  w.family("parley_event_loop_idle_seconds_total", MetricType::counter,
           "Time the event loop spent waiting for I/O; 1 - rate() of it is the busy share.");
  w.sample(loop.idle_seconds);
  admin::write_process_stats(w, admin::read_process_stats());
  if (more) more(w);
  return w.take();
}

}  // namespace parley
