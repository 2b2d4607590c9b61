#include "parley/hub/drain_schedule.hpp"

namespace parley {

std::size_t DrainSchedule::due(std::int64_t now_ms) const {
  if (now_ms < grace_end_ms_ || slots_ == 0) return 0;
  const auto elapsed = static_cast<std::uint64_t>(now_ms - grace_end_ms_);
  const auto window = static_cast<std::uint64_t>(window_ms_);
  if (window_ms_ <= 0 || elapsed >= window) return slots_;
  // Slot k is due once elapsed >= k * window / N, i.e. k <= elapsed * N / window.
  // No overflow: elapsed < window <= an hour's ms, N < 2^32 clients.
  const std::uint64_t last = elapsed * slots_ / window;
  return last + 1 >= slots_ ? slots_ : static_cast<std::size_t>(last + 1);
}

std::int64_t DrainSchedule::slot_ms(std::size_t k) const {
  if (slots_ == 0 || window_ms_ <= 0) return grace_end_ms_;
  // Rounded up, so that due(slot_ms(k)) counts slot k.
  if (k >= slots_) k = slots_;
  const std::uint64_t scaled = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(window_ms_);
  const std::uint64_t offset = (scaled + slots_ - 1) / slots_;
  return grace_end_ms_ + static_cast<std::int64_t>(offset);
}

std::uint64_t jittered_retry_ms(std::uint64_t retry_ms, std::uint64_t& state) {
  // splitmix64: small, fast, and good enough to spread reconnects.
  state += 0x9e3779b97f4a7c15ull;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  if (retry_ms == 0) return 0;
  return retry_ms / 2 + z % (retry_ms + 1);
}

}  // namespace parley
