// When the `parley` client tries to connect again. Pure: the caller measures
// time and supplies the randomness, so tests need neither a clock nor luck.
#pragma once

#include <functional>

namespace parley::client {

// Every delay is jittered, so that the clients a server drops together do
// not all come back in the same instant.
class Backoff {
 public:
  static constexpr int first_failure_ms = 500;  // after the first failed attempt
  static constexpr int cap_ms = 30000;          // doubling stops here
  static constexpr int lost_min_ms = 100;       // a lost connection: 100-500 ms
  static constexpr int lost_max_ms = 500;

  // `random` returns a number in [0, 1).
  explicit Backoff(std::function<double()> random) : random_(std::move(random)) {}

  // After `shutdown` {retry_ms}: the server already spread retry_ms over its
  // clients; we add up to a fifth more (and at most 1 s) of our own.
  int after_shutdown(long long retry_ms);
  // After a connection that was up went away without warning.
  int after_loss();
  // After an attempt that failed (no connection, or lost before `hello` was
  // answered): 0.5 s, 1 s, 2 s ... 30 s, each between half and all of it.
  int after_failure();
  // Once a `hello` succeeded: the next failure starts from 0.5 s again.
  void reset() { failures_ = 0; }

 private:
  std::function<double()> random_;
  int failures_ = 0;
};

}  // namespace parley::client
