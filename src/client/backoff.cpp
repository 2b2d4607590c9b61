#include "parley/client/backoff.hpp"

#include <algorithm>

namespace parley::client {

int Backoff::after_shutdown(long long retry_ms) {
  const long long base = std::clamp(retry_ms, 0LL, static_cast<long long>(cap_ms));
  const long long extra = std::min(base / 5, 1000LL);
  return static_cast<int>(base + static_cast<long long>(random_() * static_cast<double>(extra + 1)));
}

int Backoff::after_loss() {
  return lost_min_ms + static_cast<int>(random_() * (lost_max_ms - lost_min_ms));
}

int Backoff::after_failure() {
  int delay = first_failure_ms;
  for (int i = 0; i < failures_ && delay < cap_ms; ++i) delay = std::min(delay * 2, cap_ms);
  ++failures_;
  return delay / 2 + static_cast<int>(random_() * (delay / 2));
}

}  // namespace parley::client
