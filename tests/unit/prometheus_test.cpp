#include <cmath>
#include <ctime>
#include <limits>

#include <doctest/doctest.h>

#include "parley/admin/histogram.hpp"
#include "parley/admin/process_stats.hpp"
#include "parley/admin/prometheus.hpp"

using namespace parley::admin;

TEST_CASE("prometheus: a counter") {
  PrometheusWriter w;
  w.family("parley_connections_accepted_total", MetricType::counter, "Connections accepted.");
  w.sample(42);
  CHECK(w.text() ==
        "# HELP parley_connections_accepted_total Connections accepted.\n"
        "# TYPE parley_connections_accepted_total counter\n"
        "parley_connections_accepted_total 42\n");
  CHECK(w.misuses() == 0);
}

TEST_CASE("prometheus: a gauge with labels; integers and doubles") {
  PrometheusWriter w;
  w.family("parley_sessions", MetricType::gauge, "Open sessions.");
  w.sample({{"transport", "line"}, {"state", "open"}}, std::uint64_t{18446744073709551615u});
  w.sample({{"transport", "ws"}}, -3);
  w.sample({{"x", "a"}}, 0.1);
  w.sample({{"x", "b"}}, 1e21);
  w.sample({{"x", "c"}}, 2.0);
  w.sample({{"x", "nan"}}, std::numeric_limits<double>::quiet_NaN());
  w.sample({{"x", "inf"}}, std::numeric_limits<double>::infinity());
  w.sample({{"x", "-inf"}}, -std::numeric_limits<double>::infinity());
  CHECK(w.text() ==
        "# HELP parley_sessions Open sessions.\n"
        "# TYPE parley_sessions gauge\n"
        "parley_sessions{transport=\"line\",state=\"open\"} 18446744073709551615\n"
        "parley_sessions{transport=\"ws\"} -3\n"
        "parley_sessions{x=\"a\"} 0.1\n"
        "parley_sessions{x=\"b\"} 1e+21\n"
        "parley_sessions{x=\"c\"} 2\n"
        "parley_sessions{x=\"nan\"} NaN\n"
        "parley_sessions{x=\"inf\"} +Inf\n"
        "parley_sessions{x=\"-inf\"} -Inf\n");
  CHECK(w.misuses() == 0);
}

TEST_CASE("prometheus: help escapes backslash and newline; label values also the double quote") {
  PrometheusWriter w;
  w.family("parley_listeners", MetricType::gauge, "A \"path\" with C:\\dir\nand more");
  w.sample({{"address", "/tmp/a\\b\"c\nd"}}, 1);
  CHECK(w.text() ==
        "# HELP parley_listeners A \"path\" with C:\\\\dir\\nand more\n"
        "# TYPE parley_listeners gauge\n"
        "parley_listeners{address=\"/tmp/a\\\\b\\\"c\\nd\"} 1\n");
}

TEST_CASE("prometheus: a histogram writes cumulative buckets, +Inf, sum and count") {
  const double bounds[] = {0.5, 0.25, 1, 0.5, std::numeric_limits<double>::infinity()};
  Histogram h(bounds);
  REQUIRE(h.bounds().size() == 3);  // sorted, deduplicated, +Inf implicit
  CHECK(h.bounds()[0] == 0.25);
  for (double v : {0.25, 0.125, 0.5, 0.75, 4.0}) h.observe(v);  // sums exactly
  CHECK(h.count() == 5);
  CHECK(h.sum() == 5.625);
  CHECK(h.bucket_counts()[0] == 2);  // le is inclusive
  CHECK(h.bucket_counts()[1] == 1);
  CHECK(h.bucket_counts()[2] == 1);
  CHECK(h.bucket_counts()[3] == 1);

  PrometheusWriter w;
  w.family("parley_event_loop_lag_seconds", MetricType::histogram, "Event loop lag.");
  w.histogram({}, h);
  w.histogram({{"loop", "main"}}, Histogram(bounds));
  CHECK(w.text() ==
        "# HELP parley_event_loop_lag_seconds Event loop lag.\n"
        "# TYPE parley_event_loop_lag_seconds histogram\n"
        "parley_event_loop_lag_seconds_bucket{le=\"0.25\"} 2\n"
        "parley_event_loop_lag_seconds_bucket{le=\"0.5\"} 3\n"
        "parley_event_loop_lag_seconds_bucket{le=\"1\"} 4\n"
        "parley_event_loop_lag_seconds_bucket{le=\"+Inf\"} 5\n"
        "parley_event_loop_lag_seconds_sum 5.625\n"
        "parley_event_loop_lag_seconds_count 5\n"
        "parley_event_loop_lag_seconds_bucket{loop=\"main\",le=\"0.25\"} 0\n"
        "parley_event_loop_lag_seconds_bucket{loop=\"main\",le=\"0.5\"} 0\n"
        "parley_event_loop_lag_seconds_bucket{loop=\"main\",le=\"1\"} 0\n"
        "parley_event_loop_lag_seconds_bucket{loop=\"main\",le=\"+Inf\"} 0\n"
        "parley_event_loop_lag_seconds_sum{loop=\"main\"} 0\n"
        "parley_event_loop_lag_seconds_count{loop=\"main\"} 0\n");
  CHECK(w.misuses() == 0);
}

TEST_CASE("histogram: NaN and values past the last bound go to +Inf; the lag bounds") {
  Histogram h(lag_seconds_bounds);
  CHECK(h.bounds().size() == lag_seconds_bounds.size());
  CHECK(h.bucket_counts().size() == lag_seconds_bounds.size() + 1);
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(6);
  h.observe(0);
  CHECK(h.bucket_counts().back() == 2);
  CHECK(h.bucket_counts().front() == 1);
  CHECK(std::isnan(h.sum()));
}

TEST_CASE("prometheus: misuse writes nothing and is counted") {
  PrometheusWriter w;
  w.sample(1);                                           // no family open
  w.family("bad name", MetricType::gauge, "x");          // invalid name
  w.sample(1);                                           // ... so its samples are dropped
  w.family("parley_ok", MetricType::gauge, "x");
  w.sample({{"bad-label", "v"}}, 1);                     // invalid label name
  w.histogram({}, Histogram(lag_seconds_bounds));        // not a histogram family
  w.family("parley_ok", MetricType::gauge, "again");     // declared twice
  w.family("parley_h_seconds", MetricType::histogram, "h");
  w.sample(1);                                           // scalar in a histogram
  w.histogram({{"le", "1"}}, Histogram(lag_seconds_bounds));  // reserved label
  CHECK(w.misuses() == 8);
  CHECK(w.text() ==
        "# HELP parley_ok x\n# TYPE parley_ok gauge\n"
        "# HELP parley_h_seconds h\n# TYPE parley_h_seconds histogram\n");
}

TEST_CASE("process stats: /proc/self/stat fields, a command name with spaces and parentheses") {
  const auto t = parse_stat("1234 (a) b (c) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15 16 17 18 333 19 20");
  REQUIRE(t);
  CHECK(t->utime == 111);
  CHECK(t->stime == 222);
  CHECK(t->starttime == 333);
  CHECK_FALSE(parse_stat(""));
  CHECK_FALSE(parse_stat("1234 (x) S 1 2"));
}

TEST_CASE("process stats are sane and write the standard families") {
  const ProcessStats s = read_process_stats();
  REQUIRE(s.cpu_seconds);
  REQUIRE(s.resident_bytes);
  REQUIRE(s.open_fds);
  REQUIRE(s.max_fds);
  REQUIRE(s.start_time_seconds);
  CHECK(*s.cpu_seconds >= 0);
  CHECK(*s.resident_bytes > 0);
  CHECK(*s.open_fds > 0);
  CHECK(*s.max_fds >= *s.open_fds);
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(*s.start_time_seconds <= now + 1);
  CHECK(*s.start_time_seconds > now - 86400);

  PrometheusWriter w;
  write_process_stats(w, s);
  CHECK(w.misuses() == 0);
  for (const char* family : {"# TYPE process_cpu_seconds_total counter\n", "# TYPE process_resident_memory_bytes gauge\n",
                             "# TYPE process_open_fds gauge\n", "# TYPE process_max_fds gauge\n",
                             "# TYPE process_start_time_seconds gauge\n"})
    CHECK_MESSAGE(w.text().find(family) != std::string::npos, family);

  PrometheusWriter none;
  write_process_stats(none, ProcessStats{});
  CHECK(none.text().empty());
}
