// One client connection: its socket, idle timer, line framer and outbox.
//
// Lifetime: created by the Server on accept, freed by the Server only from the
// close callback of its last libuv handle, never in the middle of a call
// stack. Closing is two-step: `close_now` or `close_after_flush` decide, the
// handles' close callbacks release.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "parley/chat/core.hpp"
#include "parley/protocol/framer.hpp"
#include "parley/net/outbox.hpp"

namespace parley {

class Server;

class Connection {
 public:
  enum class Transport { tcp, unix_socket };
  enum class State {
    open,     // reading requests
    closing,  // flushing what is queued, then close
    closed,   // handles are closing; nothing more is sent
  };

  Connection(Server& server, ConnId id, Transport transport);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Wraps an accepted descriptor; false if libuv refuses it (then it is closed).
  bool adopt(int fd);
  // Called once after adopt succeeded, with the peer's address as logged.
  void start(bool expect_proxy_header, std::string peer);

  // Queues a line. May run inside fan-out: it never frees the connection,
  // at most marks it closed (slow_consumer).
  // Queues a line for this connection; events for many go through the
  // server's batch instead, which calls enqueue() for each recipient.
  void send(const Bytes& line, Outbox::Kind kind);
  void enqueue(const Bytes& line, Outbox::Kind kind);

  // Writes what is queued: called only from the server's prepare callback.
  void flush();

  // Queues the `error` event, then closes once it is written.
  void fatal(ErrorCode code, std::string_view message);
  // Flushes what is queued, then shuts down and closes (quit, EOF, drain).
  void close_after_flush(std::string reason);
  // Closes without flushing (I/O error, slow consumer).
  void close_now(std::string reason);

  ConnId id() const { return id_; }
  State state() const { return state_; }
  const std::string& peer() const { return peer_; }
  // The peer's IP address without the port ("" for Unix sockets).
  std::string peer_ip() const;
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  Transport transport() const { return transport_; }

  bool dirty = false;    // on the server's flush list
  bool replies_only = false;  // ... and only for replies so far (written last)
  std::string counted_ip;     // counted against --max-conns-per-ip under this address
  bool counted = false;  // counts against --max-clients

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_close(uv_handle_t* handle);

  void consume(std::string_view data);
  bool read_proxy_header(std::string_view& data);
  bool on_line(std::string_view line);
  void after_framing(LineFramer::Status status);
  void on_eof();
  void pause_reading();
  void maybe_resume_reading();
  void maybe_finish_close();
  void write_queued();
  void arm_idle_timer();
  void on_idle_timer();
  void release_handles();
  bool input_backed_up() const;

  Server& server_;
  ConnId id_;
  Transport transport_;
  State state_ = State::open;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  LineFramer framer_;
  Outbox outbox_;
  std::string proxy_buffer_;  // bytes of a PROXY header still incomplete
  std::string peer_;
  std::string close_reason_;
  std::uint64_t last_input_ms_ = 0;  // loop time of the last complete line
  unsigned pings_sent_ = 0;          // since that line
  std::size_t in_flight_ = 0;        // bytes handed to write_req_
  int open_handles_ = 0;
  bool reading_ = false;
  bool input_paused_ = false;
  bool eof_ = false;
  bool awaiting_proxy_header_ = false;
};

}  // namespace parley
