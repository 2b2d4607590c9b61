// Time as the hub reads it, passed in so tests can set it.
#pragma once

#include <cstdint>

namespace parley {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch: message timestamps and rate limits.
  virtual std::int64_t wall_ms() const = 0;
};

// The real time, from the system clock.
class WallClock final : public Clock {
 public:
  std::int64_t wall_ms() const override;
};

}  // namespace parley
