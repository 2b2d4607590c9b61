// The /metrics page's text (admin/metrics_text.hpp) from a real hub of fake
// sessions (hub_fixture.hpp) and plain loop numbers: every family named,
// typed and explained, in base units, no user's name in a label, and the
// values moving with what the hub does. promtool's verdict on the format is
// the metrics-text test's (tests/metrics/check-metrics).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "exposition.hpp"
#include "hub_fixture.hpp"
#include "parley/admin/loop_stats.hpp"
#include "parley/admin/metrics_text.hpp"
#include "parley_version.h"

using namespace parley;
using namespace parley::test;

namespace {

// Every family of parley's own, with its type: the page must write each.
struct Expected {
  std::string_view name;
  std::string_view type;
};
constexpr Expected parley_families[] = {
    {"parley_build_info", "gauge"},
    {"parley_connections_open", "gauge"},
    {"parley_connections_accepted_total", "counter"},
    {"parley_connections_refused_total", "counter"},
    {"parley_connections_closed_total", "counter"},
    {"parley_requests_total", "counter"},
    {"parley_lines_received_total", "counter"},
    {"parley_received_bytes_total", "counter"},
    {"parley_lines_sent_total", "counter"},
    {"parley_sent_bytes_total", "counter"},
    {"parley_deliveries_total", "counter"},
    {"parley_slow_consumers_total", "counter"},
    {"parley_rate_limited_total", "counter"},
    {"parley_users", "gauge"},
    {"parley_channels", "gauge"},
    {"parley_sessions_held", "gauge"},
    {"parley_draining", "gauge"},
    {"parley_ready", "gauge"},
    {"parley_event_loop_lag_seconds", "histogram"},
    {"parley_event_loop_utilization_ratio", "gauge"},
    {"parley_event_loop_idle_seconds_total", "counter"},
};

// The page as the test's hub and `loop` make it now.
struct Page {
  HubFixture& f;
  LoopStats loop;

  std::string text() const { return metrics_text(f.hub, loop); }
  // A sample's value; fails the check when the page has no such line.
  double value(const std::string& sample) const {
    const std::optional<double> v = metric_value(text(), sample);
    CHECK_MESSAGE(v.has_value(), "no sample " << sample << " in:\n" << text());
    return v.value_or(-1);
  }
};

std::string closed(std::string_view reason) {
  return "parley_connections_closed_total{reason=\"" + std::string(reason) + "\"}";
}

std::string requests(std::string_view command, std::string_view result) {
  return "parley_requests_total{command=\"" + std::string(command) + "\",result=\"" + std::string(result) + "\"}";
}

}  // namespace

TEST_CASE("metrics text: every parley_ family with HELP and TYPE, counters in _total, base units") {
  HubFixture f;
  f.connect("alice");
  const std::vector<MetricFamily> families = metric_families(Page{f, {}}.text());

  for (const Expected& want : parley_families) {
    INFO(want.name);
    const auto it = std::find_if(families.begin(), families.end(),
                                 [&](const MetricFamily& m) { return m.name == want.name; });
    REQUIRE(it != families.end());
    CHECK(it->type == want.type);
    CHECK_FALSE(it->help.empty());
    CHECK_FALSE(it->samples.empty());
  }

  std::set<std::string> names;
  for (const MetricFamily& family : families) {
    INFO(family.name);
    CHECK(names.insert(family.name).second);  // each family once
    CHECK((family.name.starts_with("parley_") || family.name.starts_with("process_")));
    CHECK_FALSE(family.help.empty());
    CHECK((family.type == "counter" || family.type == "gauge" || family.type == "histogram"));
    CHECK((family.type == "counter") == family.name.ends_with("_total"));
    // Base units: seconds and bytes, ratios rather than percentages.
    for (std::string_view unit : {"_milliseconds", "_ms", "_microseconds", "_minutes", "_hours", "_kilobytes",
                                  "_kb", "_megabytes", "_percent"})
      CHECK(family.name.find(unit) == std::string::npos);
    for (const MetricSample& sample : family.samples) {
      INFO(sample.value);
      CHECK_FALSE(sample.name.empty());  // the line parsed
      if (family.type == "histogram")
        CHECK((sample.name == family.name + "_bucket" || sample.name == family.name + "_sum" ||
               sample.name == family.name + "_count"));
      else
        CHECK(sample.name == family.name);
    }
  }
  for (std::string_view process : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                                   "process_max_fds", "process_start_time_seconds"})
    CHECK_MESSAGE(names.contains(std::string(process)), process);
  CHECK(metric_value(Page{f, {}}.text(), "parley_build_info{version=\"" PARLEY_VERSION "\"}") == 1);
}

TEST_CASE("metrics text: labels are a few fixed words, never a nick or a channel") {
  HubFixture f;
  FakeSession& a = f.connect("zanzibar");
  f.join(a, "#quuxchannel");
  FakeSession& b = f.connect("yodelwhale");
  f.join(b, "#quuxchannel");
  REQUIRE(f.line(a, say("#quuxchannel", "hi", 1)));
  REQUIRE(f.line(a, R"({"cmd":"msg","to":"yodelwhale","text":"psst","id":2})"));
  REQUIRE(f.line(a, R"({"cmd":"join","channel":"bad channel","id":3})"));  // an error result too
  f.turn();
  const std::string text = Page{f, {}}.text();

  for (std::string_view name : {"zanzibar", "yodelwhale", "quuxchannel"})
    CHECK_MESSAGE(text.find(name) == std::string::npos, name);
  const std::set<std::string> allowed{"transport", "reason", "command", "result", "version", "le"};
  for (const MetricFamily& family : metric_families(text))
    for (const MetricSample& sample : family.samples)
      for (const auto& [label, value] : sample.labels) CHECK_MESSAGE(allowed.contains(label), sample.name << " " << label);
}

TEST_CASE("metrics text: the values move with the hub's work") {
  HubFixture f;
  Page page{f, {}};
  const std::string unix_open = "parley_connections_open{transport=\"unix\"}";
  CHECK(page.value("parley_connections_accepted_total") == 0);
  CHECK(page.value(unix_open) == 0);
  CHECK(page.value("parley_ready") == 1);

  SUBCASE("accepts, users and channels, lines and bytes, says and deliveries") {
    auto [a, b, c] = f.three_in("#room");
    CHECK(page.value("parley_connections_accepted_total") == 3);
    CHECK(page.value(unix_open) == 3);
    CHECK(page.value("parley_connections_open{transport=\"tcp\"}") == 0);
    CHECK(page.value("parley_users") == 3);
    CHECK(page.value("parley_channels") == 1);
    CHECK(page.value(requests("hello", "ok")) == 3);
    CHECK(page.value(requests("join", "ok")) == 3);
    CHECK(page.value("parley_lines_received_total") == 6);

    const double deliveries = page.value("parley_deliveries_total");
    const double lines_out = page.value("parley_lines_sent_total");
    const double bytes_out = page.value("parley_sent_bytes_total");
    REQUIRE(f.line(a, say("#room", "hello", 1)));
    f.turn();
    CHECK(page.value(requests("say", "ok")) == 1);
    CHECK(page.value("parley_lines_received_total") == 7);
    CHECK(page.value("parley_deliveries_total") == deliveries + 2);  // bob and carol
    CHECK(page.value("parley_lines_sent_total") == lines_out + 3);   // alice's reply, two events
    CHECK(page.value("parley_sent_bytes_total") > bytes_out);

    f.hub.bytes_read(a, 1234);
    CHECK(page.value("parley_received_bytes_total") == 1234);
  }

  SUBCASE("requests by command and result, the rate limit") {
    FakeSession& a = f.connect("alice");
    REQUIRE(f.line(a, "{not json"));
    REQUIRE(f.line(a, R"({"cmd":"join","channel":"bad channel","id":1})"));
    REQUIRE(f.line(a, R"({"cmd":"part","channel":"#nowhere","id":2})"));
    f.turn();
    CHECK(page.value(requests("unknown", "bad_json")) == 1);
    CHECK(page.value(requests("join", "invalid_channel")) == 1);
    CHECK(page.value(requests("join", "ok")) == 0);  // ok is written even at 0
    CHECK(page.value(requests("part", "ok")) == 0);
    CHECK(metric_value(page.text(), requests("say", "rate_limited")) == std::nullopt);  // errors only once seen

    CHECK(page.value("parley_rate_limited_total") == 0);
    const RateLimit limit = Limits{}.rate;  // the whole burst at one instant, then one more
    for (std::uint64_t i = 0; i <= limit.burst; ++i) {
      f.line(a, ping(static_cast<int>(i)));
      if (i % 256 == 0) f.settle();
    }
    f.settle();
    CHECK(page.value("parley_rate_limited_total") >= 1);
    CHECK(page.value(requests("ping", "rate_limited")) == page.value("parley_rate_limited_total"));
  }

  SUBCASE("closes by reason, slow consumers, refusals; draining") {
    FakeSession& a = f.connect("alice");
    FakeSession& b = f.connect("bob");
    FakeSession& c = f.connect("carol");
    REQUIRE_FALSE(f.line(a, R"({"cmd":"quit"})"));
    f.hub.close(b, CloseReason::eof);
    f.hub.close(c, CloseReason::slow_consumer);
    CHECK(page.value(closed("quit")) == 1);
    CHECK(page.value(closed("eof")) == 1);
    CHECK(page.value(closed("slow_consumer")) == 1);
    CHECK(page.value("parley_slow_consumers_total") == 1);
    CHECK(page.value(closed("idle_timeout")) == 0);  // every reason is written, at 0 too
    CHECK(page.value(unix_open) == 3);              // until their transports are done
    f.turn();
    for (FakeSession* s : {&a, &b, &c}) f.release(*s);
    CHECK(page.value(unix_open) == 0);

    CHECK(page.value("parley_draining") == 0);
    f.drain({1000, 1000, 1000, 1});
    CHECK(page.value("parley_draining") == 1);
    CHECK(page.value("parley_ready") == 0);
    FakeSession& late = f.add();
    CHECK_FALSE(f.hub.admit(late));
    CHECK(page.value("parley_connections_refused_total") == 1);
    CHECK(page.value("parley_connections_accepted_total") == 4);  // accepted, then refused
  }
}

TEST_CASE("metrics text: the loop's lag histogram, utilisation and idle time as LoopStats gives them") {
  HubFixture f;
  LoopStats loop;
  for (double lag : {0.0004, 0.003, 0.003, 0.25, 7.0}) loop.lag.observe(lag);
  loop.utilization = 0.25;
  loop.idle_seconds = 12.5;
  const std::string text = metrics_text(f.hub, loop);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_count") == 5);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_bucket{le=\"0.001\"}") == 1);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_bucket{le=\"0.005\"}") == 3);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_bucket{le=\"5\"}") == 4);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_bucket{le=\"+Inf\"}") == 5);
  CHECK(metric_value(text, "parley_event_loop_lag_seconds_sum").value_or(-1) == doctest::Approx(7.2564));
  CHECK(metric_value(text, "parley_event_loop_utilization_ratio") == 0.25);
  CHECK(metric_value(text, "parley_event_loop_idle_seconds_total") == 12.5);
}

TEST_CASE("metrics text: held sessions are counted while their grace runs") {
  HubFixture f(config(), with_grace(2000));
  Page page{f, {}};
  auto [a, b, c] = f.three_in("#room");
  CHECK(page.value("parley_sessions_held") == 0);
  f.hub.close(c, CloseReason::eof);
  f.turn();
  f.release(c);
  CHECK(page.value("parley_sessions_held") == 1);
  CHECK(page.value("parley_users") == 3);  // the nick is still taken
  f.clock.now += 2000;
  f.hub.tick();
  CHECK(page.value("parley_sessions_held") == 0);
  CHECK(page.value("parley_users") == 2);
}
