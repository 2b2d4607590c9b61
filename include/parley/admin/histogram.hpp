// A Prometheus-style histogram: fixed upper bounds chosen at construction,
// a count per bucket, the total count and the sum of what was observed.
// observe() is a binary search and an increment: no allocation, no lock (the
// loop is one thread). PrometheusWriter::histogram writes it as the
// cumulative `_bucket{le=...}`, `_sum` and `_count` samples.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace parley::admin {

// Seconds, for the event-loop lag: 1 ms to 5 s in 1-2-5 steps.
inline constexpr std::array<double, 12> lag_seconds_bounds{
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};

class Histogram {
 public:
  // The bounds are sorted and deduplicated; NaN and infinities are dropped
  // (the +Inf bucket is always there, after the last finite bound).
  explicit Histogram(std::span<const double> upper_bounds);

  // Counts `value` in the first bucket whose bound is >= value (a value
  // above every bound, or NaN, lands in the +Inf bucket) and adds it to the
  // sum.
  void observe(double value) noexcept;

  // The finite upper bounds, ascending.
  std::span<const double> bounds() const noexcept { return bounds_; }
  // Per bucket, not cumulative: bounds().size() + 1 entries, the last one
  // the +Inf bucket.
  std::span<const std::uint64_t> bucket_counts() const noexcept { return counts_; }
  std::uint64_t count() const noexcept { return count_; }
  double sum() const noexcept { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace parley::admin
