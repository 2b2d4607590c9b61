#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley::bench {

// Values below 2*sub_count have a bucket each. Above, a value with highest
// bit e keeps its top sub_bits+1 bits: bucket = 2*sub_count + (shift-1)*sub_count
// + (value >> shift) - sub_count, where shift = e - sub_bits.
int Histogram::bucket_of(std::uint64_t value) {
  if (value < 2 * sub_count) return static_cast<int>(value);
  const int top_bit = 63 - std::countl_zero(value);
  const int shift = top_bit - sub_bits;
  return 2 * sub_count + (shift - 1) * sub_count + static_cast<int>(value >> shift) - sub_count;
}

std::uint64_t Histogram::bucket_high(int bucket) {
  if (bucket < 2 * sub_count) return static_cast<std::uint64_t>(bucket);
  const int shift = (bucket - 2 * sub_count) / sub_count + 1;
  const std::uint64_t mantissa = static_cast<std::uint64_t>((bucket - 2 * sub_count) % sub_count + sub_count);
  if (shift + sub_bits + 1 >= 64 && mantissa == 2 * sub_count - 1) return UINT64_MAX;
  return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value) {
  ++counts_[static_cast<std::size_t>(bucket_of(value))];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_high(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace parley::bench
