#include "parley/cluster/redis_backoff.hpp"

#include <algorithm>

namespace parley::cluster {

std::int64_t reconnect_delay_ms(unsigned failures, std::int64_t min_ms, std::int64_t max_ms, double random) {
  const std::int64_t cap = std::max<std::int64_t>(max_ms, 1);
  std::int64_t delay = std::clamp<std::int64_t>(min_ms, 1, cap);
  for (unsigned i = 0; i < failures && delay < cap; ++i) delay = std::min(delay * 2, cap);
  const double fraction = std::clamp(random, 0.0, 1.0);
  const auto half = delay / 2;
  return std::max<std::int64_t>(1, half + static_cast<std::int64_t>(fraction * static_cast<double>(delay - half)));
}

}  // namespace parley::cluster
