// When a drain closes whom: the staggered-drain arithmetic, with no clock
// and no sessions of its own, so it can be tested by numbers alone.
//
// The contract (../shared/protocol.md, "Server command line"): every client
// is told `shutdown` with its own retry_ms, spread between half and one and
// a half times --shutdown-retry-ms; the server waits --drain-grace for
// clients to leave by themselves; then the N still there close one by one,
// evenly over --drain-window. Slot k (0-based) of N falls at
//     grace_end + k * window / N,
// so the first goes as the grace ends and the last one interval before the
// window does: the whole drain fits in grace + window (plus each close's
// own flush, bounded by --drain-timeout), which systemd's TimeoutStopSec
// must cover. A session that left before its slot leaves the slot unused;
// the others keep theirs, so the pace never speeds up or bunches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace parley {

struct DrainPlan {
  std::uint64_t retry_ms = 2000;  // --shutdown-retry-ms: the middle of each client's retry_ms
  std::int64_t grace_ms = 0;      // --drain-grace (0 with SIGINT)
  std::int64_t window_ms = 0;     // --drain-window (0 with SIGINT)
  std::uint64_t seed = 0;         // for the retry_ms jitter; tests fix it
};

class DrainSchedule {
 public:
  DrainSchedule(const DrainPlan& plan, std::int64_t start_ms)
      : grace_end_ms_(start_ms + plan.grace_ms), window_ms_(plan.window_ms) {}

  std::int64_t grace_end_ms() const { return grace_end_ms_; }
  bool in_grace(std::int64_t now_ms) const { return now_ms < grace_end_ms_; }
  // The sessions left when the grace ended: how many slots to spread.
  void spread(std::size_t sessions) { slots_ = sessions; }
  std::size_t slots() const { return slots_; }

  // How many slots have come by now (0 during the grace).
  std::size_t due(std::int64_t now_ms) const;
  // When slot k comes.
  std::int64_t slot_ms(std::size_t k) const;

 private:
  std::int64_t grace_end_ms_;
  std::int64_t window_ms_;
  std::size_t slots_ = 0;
};

// Each client's own retry_ms: uniform in [retry_ms / 2, retry_ms * 3 / 2].
// `state` is a splitmix64 state the caller keeps between calls.
std::uint64_t jittered_retry_ms(std::uint64_t retry_ms, std::uint64_t& state);

}  // namespace parley
