#include "parley/hub/clock.hpp"

#include <chrono>

namespace parley {

std::int64_t WallClock::wall_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace parley
