#include "parley/admin/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace parley::admin {

Histogram::Histogram(std::span<const double> upper_bounds) {
  for (double b : upper_bounds)
    if (std::isfinite(b)) bounds_.push_back(b);
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) noexcept {
  // The first bound >= value; NaN compares false everywhere and goes to +Inf.
  const auto it = std::partition_point(bounds_.begin(), bounds_.end(),
                                       [value](double bound) { return !(bound >= value); });
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

}  // namespace parley::admin
