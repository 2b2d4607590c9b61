// A log-bucketed latency histogram in the spirit of HdrHistogram: fixed
// memory (no allocation when recording), about 3% relative precision from
// 1 ns to hours, and exact min, max and mean on the side.
#pragma once

#include <array>
#include <cstdint>

namespace parley::bench {

class Histogram {
 public:
  // 32 linear sub-buckets per power of two: every bucket is at most 1/32
  // (about 3%) of its value wide.
  static constexpr int sub_bits = 5;
  static constexpr int sub_count = 1 << sub_bits;
  static constexpr int bucket_count = 2 * sub_count + (63 - sub_bits) * sub_count;

  void record(std::uint64_t value);
  void merge(const Histogram& other);
  void clear() { *this = Histogram{}; }

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value at quantile q in [0, 1]: the upper edge of the bucket holding
  // the ceil(q * count)-th smallest value, never more than max().
  std::uint64_t quantile(double q) const;

  static int bucket_of(std::uint64_t value);
  static std::uint64_t bucket_high(int bucket);  // largest value in the bucket

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

}  // namespace parley::bench
