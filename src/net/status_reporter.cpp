#include "parley/net/status_reporter.hpp"

#include <string>

namespace parley {

StatusReporter::StatusReporter(uv_loop_t* loop, const Hub& hub, SdNotifier& notifier)
    : hub_(hub), notifier_(notifier) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void StatusReporter::start() {
  if (!notifier_.enabled()) return;
  report();
  (void)uv_timer_start(&timer_, on_tick, 1000, 1000);  // a fresh timer with a callback: cannot fail
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

void StatusReporter::close() { uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr); }

void StatusReporter::report() {
  last_ = hub_.size();
  notifier_.notify(std::string("STATUS=") + (hub_.draining() ? "draining, " : "serving, ") +
                   std::to_string(last_) + " clients");
}

void StatusReporter::on_tick(uv_timer_t* timer) {
  auto& self = *static_cast<StatusReporter*>(timer->data);
  if (self.hub_.size() != self.last_) self.report();
}

}  // namespace parley
