// Tells systemd (sd_notify's STATUS=) how many clients there are: once at
// start, on a drain, and once a second when the number changed.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

#include "parley/hub/hub.hpp"
#include "parley/net/sd_notify.hpp"

namespace parley {

class StatusReporter {
 public:
  // The timer is made here (it allocates nothing, so it cannot fail) and
  // started by start(); close() before the loop ends.
  StatusReporter(uv_loop_t* loop, const Hub& hub, SdNotifier& notifier);
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  // Reports now and then each second, when systemd listens (NOTIFY_SOCKET);
  // the timer never keeps the loop alive.
  void start();
  void close();
  void report();

 private:
  static void on_tick(uv_timer_t* timer);

  const Hub& hub_;
  SdNotifier& notifier_;
  uv_timer_t timer_;
  std::size_t last_ = SIZE_MAX;
};

}  // namespace parley
