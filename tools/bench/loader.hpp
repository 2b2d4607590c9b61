// The loader's event loop: many non-blocking client connections on one
// epoll set, each with an output buffer flushed once per loop turn and a
// carried-over partial frame. Scenarios derive from Loader and react to
// connections opening, frames arriving and connections closing.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "parley/socket/endpoint.hpp"
#include "protocol.hpp"

namespace parley::bench {

struct Options;

// Where to connect: the first endpoint a --server names, resolved once.
Endpoint resolve_server(const std::string& text);  // throws std::runtime_error
// 127.0.0.0/8: source addresses can be spread over it.
bool is_loopback_v4(const Endpoint& endpoint);

// Raises RLIMIT_NOFILE to at least `wanted` descriptors (raising the hard
// limit too when allowed). Returns the soft limit in force afterwards.
std::uint64_t raise_fd_limit(std::uint64_t wanted);

// What an unanswered request of a population connection was. Replies come
// in request order, so each reply answers the oldest one.
enum class Request : std::uint8_t { greet, resume, subscribe, publish, history, ping, probe };
struct Pending {
  Request what = Request::greet;
  std::uint64_t counter = 0;  // publish: the message's number in its sender's sequence
};

struct Conn {
  std::uint32_t id = 0;      // the scenario's index for it
  std::uint32_t source = 0;  // picks the loopback source address
  std::uint32_t server = 0;  // which --server it connects to (spread.hpp)
  int fd = -1;
  bool closed = false;
  bool dirty = false;          // in the flush list
  bool want_writable = false;  // EPOLLOUT armed
  int pending_acks = 0;        // counted requests not yet answered
  std::string nick;
  std::string out;             // bytes to send
  std::size_t out_sent = 0;
  std::string partial;         // the start of a frame the last read cut off
  bool opening = false;        // the transport is being opened (--transport ws): not greeted yet
  bool ready = false;          // greeted and subscribed (population scenarios)
  bool was_ready = false;      // ... at least once: a reconnect resumes rather than registers
  std::deque<Pending> requests;  // population scenarios: the unanswered requests, oldest first
  std::string session;         // the last hello reply's session token (--reconnect, Parley)
  bool told_to_leave = false;  // --reconnect: the server said `shutdown` (or `shutting_down`)
  std::uint64_t reconnect_at = 0;  // --reconnect: when it is opened again; 0 when not scheduled
};

// A lost connection (no `shutdown` before it) is opened again after about
// this long, jittered like a `shutdown`'s retry_ms.
constexpr std::uint64_t lost_connection_retry_ms = 500;

// Jitter for --reconnect: uniform over [delay/2, 3*delay/2), the spread the
// protocol asks of servers telling clients to come back, so clients told at
// once do not all return at once.
std::uint64_t jittered_ms(std::uint64_t delay_ms, std::mt19937_64& random);

class Loader {
 public:
  Loader(const Options& options, const Protocol& protocol);
  virtual ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

 protected:
  // Starts a non-blocking connect and calls on_connected() to queue the
  // greeting (once the transport is open, for a transport that has to be
  // opened first: a WebSocket's upgrade); a failed connect shows up as
  // on_closed().
  void open(Conn& conn);
  void close(Conn& conn);
  // Queues conn.out for the flush at the end of this loop turn.
  void queue(Conn& conn);
  // --reconnect: has on_reconnect_due(conn) called after about `delay_ms`
  // (jittered_ms), at most once per connection at a time (a second call
  // while one is scheduled does nothing), and counts the reconnect as
  // announced (the server said `shutdown`) or not (the connection was lost).
  void reconnect_later(Conn& conn, std::uint64_t delay_ms, bool announced);
  // One loop turn: waits at most until `deadline_ns` (monotonic) for I/O,
  // dispatches it, calls on_turn(), flushes. Returns the time after it.
  std::uint64_t turn(std::uint64_t deadline_ns);

  virtual void on_connected(Conn& conn) = 0;
  virtual void on_frame(Conn& conn, const Frame& frame) = 0;
  virtual void on_closed(Conn& conn, std::string_view why) = 0;
  virtual void on_turn(std::uint64_t /*now_ns*/) {}
  // A scheduled reconnect is due: by default the connection is closed if it
  // is still open (the client leaves on its own, as `shutdown` asks) and
  // opened again, to the next --server (spread.hpp's next_server).
  virtual void on_reconnect_due(Conn& conn);
  std::size_t server_count() const { return endpoints_.size(); }

  const Options& options_;
  const Protocol& protocol_;
  // TCP_NODELAY on new connections: needed for traffic (small writes must not
  // wait for ACKs), not for connect cycles, which never have data in flight.
  bool nodelay_ = true;
  std::uint64_t protocol_errors_ = 0;  // frames the protocol could not parse
  std::uint64_t read_time_ns_ = 0;     // when the bytes being dispatched were read
  bool in_read_ = false;               // frames of one read are being dispatched
  std::uint64_t reconnects_after_shutdown_ = 0;
  std::uint64_t reconnects_after_loss_ = 0;

 private:
  void on_readable(Conn& conn);
  // The transport's own frames: false when the connection is gone.
  bool on_transport_frame(Conn& conn, const Frame& frame);
  void flush(Conn& conn);
  void flush_queued();
  void set_writable_interest(Conn& conn, bool on);
  void bind_source(int fd, std::uint32_t id);
  void wait_until(std::uint64_t deadline_ns);
  void run_due_reconnects(std::uint64_t now_ns);

  using Due = std::pair<std::uint64_t, Conn*>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  std::mt19937_64 random_{0x9a71e7};  // a fixed seed: the same run jitters the same way

  std::vector<Endpoint> endpoints_;  // one per --server, in order
  std::vector<bool> spread_sources_;  // per endpoint: a 127.x address, so sources can be spread
  int source_addrs_ = 1;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  std::vector<char> read_buffer_;
  std::vector<Conn*> dirty_;
};

}  // namespace parley::bench
