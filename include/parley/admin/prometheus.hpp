// The Prometheus text exposition format, version 0.0.4, written into one
// string: what `/metrics` serves (with `content_type`).
//
//   PrometheusWriter w;
//   w.family("parley_connections_closed_total", MetricType::counter, "Connections closed, by reason.");
//   w.sample({{"reason", "eof"}}, 12);
//   w.sample({{"reason", "slow_consumer"}}, 1);
//   w.family("parley_event_loop_lag_seconds", MetricType::histogram, "...");
//   w.histogram({}, lag);
//   serve(w.text());
//
// A family is its `# HELP` and `# TYPE` lines, then its samples, which are
// every sample()/histogram() call until the next family(). Help text is
// escaped (backslash, newline), label values too (backslash, double quote,
// newline). Integers are written as integers; doubles in the shortest form
// that reads back exactly (std::to_chars), with `NaN`, `+Inf` and `-Inf`.
//
// Misuse is ignored and counted, never thrown or asserted (a scrape should
// not take the server down): a metric or label name that is not
// [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'), a family declared twice, a
// sample with no family open, a histogram() in a family that is not a
// histogram, a sample() in one that is, and an `le` label on a histogram
// each write nothing (a bad family() also drops the samples that follow it
// up to the next family()) and add one to misuses(). Tests check it is 0.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "parley/admin/histogram.hpp"

namespace parley::admin {

inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// A sample's value: any integer (written as one) or a double.
class Number {
 public:
  template <std::integral T>
  constexpr Number(T value) noexcept {  // NOLINT: implicit on purpose
    if constexpr (std::signed_integral<T>) {
      kind_ = Kind::signed_int;
      signed_ = value;
    } else {
      kind_ = Kind::unsigned_int;
      unsigned_ = value;
    }
  }
  constexpr Number(double value) noexcept : kind_(Kind::floating), double_(value) {}  // NOLINT

  // Appends the value as the text format spells it.
  void append_to(std::string& out) const;

 private:
  enum class Kind { signed_int, unsigned_int, floating };
  Kind kind_;
  std::int64_t signed_ = 0;
  std::uint64_t unsigned_ = 0;
  double double_ = 0;
};

class PrometheusWriter {
 public:
  // Writes `# HELP name help` and `# TYPE name type` and opens the family.
  void family(std::string_view name, MetricType type, std::string_view help);

  // `name{labels} value` in the open counter or gauge family.
  void sample(Number value) { sample({}, value); }
  void sample(std::initializer_list<Label> labels, Number value);

  // In the open histogram family: `name_bucket{labels,le="bound"}` for each
  // bound and "+Inf", cumulative, then `name_sum{labels}` and
  // `name_count{labels}`.
  void histogram(std::initializer_list<Label> labels, const Histogram& h);

  const std::string& text() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }
  std::size_t misuses() const noexcept { return misuses_; }

 private:
  void line(std::string_view name, std::string_view suffix, std::initializer_list<Label> labels,
            const Label* extra, Number value);

  std::string out_;
  std::string name_;  // the open family; empty when none is open
  MetricType type_ = MetricType::counter;
  std::vector<std::string> declared_;
  std::size_t misuses_ = 0;
};

}  // namespace parley::admin
