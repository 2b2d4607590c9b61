// The network shell: one libuv loop, the listeners, the connections, and the
// Core they share. Moves bytes and time; every chat decision is the Core's.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parley/parleyd/config.hpp"
#include "parley/transport/line/connection.hpp"
#include "parley/net/connection_table.hpp"
#include "parley/chat/core.hpp"
#include "parley/hub/event_batch.hpp"
#include "parley/net/listener.hpp"

namespace parley {

class Server {
 public:
  Server(uv_loop_t* loop, ServerConfig config);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens every listener and prints `listening on ADDRESS` for each.
  // Returns 0, or the exit status to stop with (1) after logging why.
  int start();

  // For listeners and connections.
  uv_loop_t* loop() const { return loop_; }
  const ServerConfig& config() const { return config_; }
  // Takes ownership of an accepted, non-blocking descriptor; `peer` is the
  // client's address as the logs show it ("unix" for Unix sockets).
  void accept(int fd, Connection::Transport transport, std::string peer);
  void handle_line(Connection& conn, std::string_view line);
  // `replies_only`: what was queued answers the connection's own requests.
  void mark_dirty(Connection& conn, bool replies_only = false);
  // Call before queuing anything for `conn` outside the event batch.
  void before_send(const Connection& conn);
  // The connection's real peer address is known: count it per IP (or refuse it).
  void peer_known(Connection& conn);
  // The connection decided to close: its `quit` is sent from the next flush.
  void connection_closing(Connection& conn, const std::string& reason);
  // Its handles are closed: free it. Only from a libuv close callback.
  void release(Connection& conn);
  uv_buf_t read_buffer() { return uv_buf_init(read_buffer_.get(), read_buffer_size); }
  std::uint64_t now_ms() const { return uv_now(loop_); }

 private:
  static constexpr unsigned read_buffer_size = 65536;
  // Large enough that a read's worth of says (64 KiB) fans out as a few
  // batches; small enough to keep one queue entry's bytes modest.
  static constexpr std::size_t max_batch_bytes = 65536;
  static void on_prepare(uv_prepare_t* handle);
  static void on_signal(uv_signal_t* handle, int signum);

  void dispatch(Connection& from, const Outcome& outcome);
  void deliver(const Delivery& delivery);
  void send_batch();
  void reap_closing();
  void flush_dirty();
  bool any_dirty() const { return !dirty_.empty() || !dirty_replies_.empty(); }
  void drain(int signum);
  void maybe_exit();
  std::int64_t wall_ms() const;

  uv_loop_t* loop_;
  ServerConfig config_;
  Core core_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  ConnectionTable connections_;
  // Events not yet queued: consecutive ones for the same recipients share
  // one buffer. Handed out before the loop writes, and before anything else
  // is queued for one of its recipients.
  EventBatch batch_{max_batch_bytes};
  std::vector<Connection*> dirty_;                       // to flush this turn
  std::vector<Connection*> dirty_replies_;               // ... after those: replies only
  std::vector<Connection*> flushing_;                    // being flushed
  std::vector<Connection*> flushing_replies_;
  std::vector<std::pair<ConnId, std::string>> closing_;  // to tell the Core about
  std::vector<std::pair<ConnId, std::string>> reaping_;  // being told
  // One read buffer for all connections: each read is consumed before the
  // next one starts (one thread), so idle connections own no read memory.
  std::unique_ptr<char[]> read_buffer_;
  uv_prepare_t prepare_;
  uv_idle_t spin_;  // keeps the loop from blocking while work is left over
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  std::size_t clients_ = 0;  // accepted and counted against --max-clients
  std::unordered_map<std::string, std::size_t> conns_per_ip_;  // open connections by client IP
  bool draining_ = false;
};

}  // namespace parley
