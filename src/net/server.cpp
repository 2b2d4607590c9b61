#include "parley/net/server.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <optional>

#include "parley/log/log.hpp"
#include "parley_version.h"

namespace parley {
namespace {

void noop_idle(uv_idle_t*) {}

uv_handle_t* as_handle(auto* handle) { return reinterpret_cast<uv_handle_t*>(handle); }

// Start-up failures are fatal: say which call failed and why.
bool started(int rc, const char* what) {
  if (rc == 0) return true;
  std::fprintf(stderr, "parleyd: %s: %s\n", what, uv_strerror(rc));
  return false;
}

// stdout names the address alone, for scripts to connect to; the log says
// where the socket came from (`origin`) and what the listener expects too.
void say_listening(const Listener& listener, const std::string& origin) {
  const std::string bound = listener.bound_address();
  std::printf("listening on %s\n", bound.c_str());
  std::fflush(stdout);
  log::info("listening on " + bound + origin + (listener.spec().proxy ? " (PROXY header first)" : ""));
}

}  // namespace

Server::Server(uv_loop_t* loop, Hub& hub, ServerOptions options, Listener::AcceptFn accept)
    : loop_(loop), hub_(hub), options_(std::move(options)), accept_(std::move(accept)) {
  // uv_prepare_init and uv_idle_init only fill in the struct; a signal
  // handle can fail (the loop's signal pipe needs descriptors), and then it
  // is neither started nor closed: start() reports the error.
  uv_prepare_init(loop_, &prepare_);
  uv_idle_init(loop_, &spin_);
  uv_timer_init(loop_, &drain_timer_);
  uv_timer_init(loop_, &tick_timer_);
  signal_init_error_ = uv_signal_init(loop_, &sigterm_);
  if (signal_init_error_ == 0) {
    signal_init_error_ = uv_signal_init(loop_, &sigint_);
    if (signal_init_error_ != 0) uv_close(as_handle(&sigterm_), nullptr);
  }
  prepare_.data = this;
  sigterm_.data = this;
  sigint_.data = this;
  drain_timer_.data = this;
  tick_timer_.data = this;
}

int Server::start() {
  // The loop's own handles first: once `listening on` is printed, a client
  // may connect, and the server must not then fail to start.
  if (!started(signal_init_error_, "uv_signal_init") ||
      !started(uv_prepare_start(&prepare_, on_prepare), "uv_prepare_start") ||
      !started(uv_signal_start(&sigterm_, on_signal, SIGTERM), "uv_signal_start SIGTERM") ||
      !started(uv_signal_start(&sigint_, on_signal, SIGINT), "uv_signal_start SIGINT") ||
      !started(uv_timer_start(&tick_timer_, on_tick, tick_ms, tick_ms), "uv_timer_start")) {
    stop();
    return 1;
  }
  uv_unref(as_handle(&tick_timer_));
  for (const int fd : options_.listen_fds) {
    auto listener = std::make_unique<Listener>(loop_, accept_);
    std::string error;
    const bool adopted = listener->adopt(fd, options_.listen_fds_proxy, error);
    listeners_.push_back(std::move(listener));
    if (!adopted) {
      std::fprintf(stderr, "parleyd: cannot use socket %d from systemd: %s\n", fd, error.c_str());
      stop();
      return 1;
    }
    say_listening(*listeners_.back(), " (socket " + std::to_string(fd) + " from systemd)");
  }
  for (const ListenSpec& spec : options_.listen) {
    auto listener = std::make_unique<Listener>(loop_, accept_);
    std::string error;
    const bool opened = listener->open(spec, error);
    listeners_.push_back(std::move(listener));
    if (!opened) {
      std::fprintf(stderr, "parleyd: cannot listen on %s: %s\n", spec.address.text().c_str(), error.c_str());
      stop();
      return 1;
    }
    say_listening(*listeners_.back(), "");
  }
  log::info(std::string("parleyd ") + PARLEY_VERSION + " started");
  if (options_.on_ready) options_.on_ready();
  return 0;
}

// Runs right before the loop blocks: the hub reaps, hands out its batch and
// writes everything queued this turn.
void Server::on_prepare(uv_prepare_t* handle) {
  Server& self = *static_cast<Server*>(handle->data);
  if (self.hub_.before_sleep())
    uv_idle_start(&self.spin_, noop_idle);  // work left over: poll without blocking
  else
    uv_idle_stop(&self.spin_);
}

void Server::on_signal(uv_signal_t* handle, int signum) { static_cast<Server*>(handle->data)->drain(signum); }

// Stop accepting, tell every client to reconnect elsewhere, and let the hub
// close them on its schedule (drain_schedule.hpp). Each closing session gets
// --drain-timeout to flush before it is cut.
void Server::drain(int signum) {
  if (hub_.draining()) {
    log::warn("second signal: closing every connection now");
    hub_.close_all_now();
    return;
  }
  DrainPlan plan = options_.drain;
  if (signum == SIGINT) plan.grace_ms = plan.window_ms = 0;
  log::info(std::string("draining on ") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") + ", " +
            std::to_string(hub_.size()) + " connections, grace " + std::to_string(plan.grace_ms) +
            " ms, window " + std::to_string(plan.window_ms) + " ms");
  for (auto& listener : listeners_) {
    listener->accept_backlog();  // they connected before the signal: told `shutdown` like the rest
    listener->close();
  }
  if (options_.on_drain) options_.on_drain();
  drain_started_ = last_progress_ = uv_now(loop_);
  hub_.drain(plan, static_cast<std::int64_t>(drain_started_), [this] {
    const double seconds = static_cast<double>(uv_now(loop_) - drain_started_) / 1000.0;
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", seconds);
    log::info(std::string("drained in ") + took + " s, exiting");
    stop();
  });
  if (!stopped_) drain_step();
}

// The timer never keeps the loop alive by itself (it is unref'd): the
// listeners and sessions do.
void Server::on_tick(uv_timer_t* timer) { static_cast<Server*>(timer->data)->hub_.tick(); }

void Server::on_drain_timer(uv_timer_t* timer) { static_cast<Server*>(timer->data)->drain_step(); }

// Closes whoever's slot has come, logs progress once a second, and sleeps
// until the sooner of the next slot and the next progress line.
void Server::drain_step() {
  uv_update_time(loop_);  // the timer fired on a cached time; slots are due by the real one
  const std::optional<std::int64_t> next_slot = hub_.drain_step(static_cast<std::int64_t>(uv_now(loop_)));
  if (stopped_) return;  // the last close emptied the server
  if (uv_now(loop_) - last_progress_ >= 1000) log_progress();
  std::uint64_t wait = 1000 - std::min<std::uint64_t>(1000, uv_now(loop_) - last_progress_);
  if (next_slot) wait = std::min<std::uint64_t>(wait, static_cast<std::uint64_t>(std::max<std::int64_t>(*next_slot, 0)));
  (void)uv_timer_start(&drain_timer_, on_drain_timer, wait, 0);  // an initialised timer: cannot fail
}

void Server::log_progress() {
  last_progress_ = uv_now(loop_);
  std::string phase = " (grace)";
  if (hub_.drain_in_window()) {
    const std::size_t left = hub_.drain_slots_left();
    phase = left ? ", " + std::to_string(left) + " still to close over the window" : ", flushing";
  }
  log::info("draining: " + std::to_string(hub_.size()) + " connections left" + phase);
}

// Closes the loop's own handles and the listeners: uv_run returns once the
// last session has closed too.
void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& listener : listeners_) listener->close();
  uv_prepare_stop(&prepare_);
  uv_idle_stop(&spin_);
  uv_timer_stop(&drain_timer_);
  uv_close(as_handle(&drain_timer_), nullptr);
  uv_timer_stop(&tick_timer_);
  uv_close(as_handle(&tick_timer_), nullptr);
  uv_close(as_handle(&prepare_), nullptr);
  uv_close(as_handle(&spin_), nullptr);
  if (signal_init_error_ == 0) {
    uv_close(as_handle(&sigterm_), nullptr);
    uv_close(as_handle(&sigint_), nullptr);
    // Closing the last watcher restores the default action, which would turn
    // a second SIGTERM during the last handles' close (a cluster's goodbye to
    // Redis, bounded by --cluster-timeout) into death by signal instead of
    // exit 0. The drain is over: a further signal has nothing left to do.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
  }
  if (options_.on_stop) options_.on_stop();
}

}  // namespace parley
