// The loop glue: the listeners, the hub's turn right before the loop
// blocks, the spin that keeps the loop from blocking while work is left,
// and the signals that drain. Moves bytes and time; every decision about
// sessions is the hub's, every chat decision the backend's.
#pragma once

#include <uv.h>

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/hub/hub.hpp"
#include "parley/net/listener.hpp"
#include "parley/socket/listen_spec.hpp"

namespace parley {

struct ServerOptions {
  std::vector<ListenSpec> listen;
  // SIGTERM's drain: retry_ms, grace and window (SIGINT's has no grace and
  // no window). The seed is drawn at start.
  DrainPlan drain;
  // Runs once when the server stops (drained, or a failed start): what must
  // outlive the drain, such as the admin listener, closes here.
  std::function<void()> on_stop;
  // Runs once every listener is open (systemd's READY=1), and when a drain
  // starts (STOPPING=1).
  std::function<void()> on_ready;
  std::function<void()> on_drain;
  // Listening sockets systemd passed for chat (net/listen_fds.hpp), taken
  // over before the `listen` addresses are opened; the TCP ones expect a
  // PROXY header with `listen_fds_proxy` (--proxy-protocol).
  std::vector<int> listen_fds;
  bool listen_fds_proxy = false;
};

class Server {
 public:
  Server(uv_loop_t* loop, Hub& hub, ServerOptions options, Listener::AcceptFn accept);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Takes over every socket in `listen_fds`, opens every `listen` address,
  // and prints `listening on ADDRESS` for each.
  // Returns 0, or the exit status to stop with (1) after saying why.
  int start();

 private:
  static void on_prepare(uv_prepare_t* handle);
  static void on_signal(uv_signal_t* handle, int signum);
  static void on_drain_timer(uv_timer_t* timer);
  static void on_tick(uv_timer_t* timer);
  void drain(int signum);
  void drain_step();
  void log_progress();
  void stop();

  uv_loop_t* loop_;
  Hub& hub_;
  ServerOptions options_;
  Listener::AcceptFn accept_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  uv_prepare_t prepare_;
  uv_idle_t spin_;  // keeps the loop from blocking while work is left over
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  // Hub::tick() four times a second: held sessions end within 250 ms of
  // their grace (seconds long), and an idle server wakes rarely.
  static constexpr std::uint64_t tick_ms = 250;
  uv_timer_t tick_timer_;
  uv_timer_t drain_timer_;      // the next close's slot, or the next progress line
  std::uint64_t drain_started_ = 0;   // uv_now() at the signal
  std::uint64_t last_progress_ = 0;   // uv_now() of the last progress line
  int signal_init_error_ = 0;
  bool stopped_ = false;
};

}  // namespace parley
