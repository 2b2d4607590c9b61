// A client speaking newline-framed JSON over a stream: the stream, the line
// framer, the optional PROXY header, and the idle timer's ping and timeout.
// Implements Session for the hub.
//
// transport/ws derives from it: a connection on a TCP listener that speaks
// HTTP is a WsSession, NDJSON exactly as here unless its first bytes are
// `GET `. The virtual hooks below are where the two differ (what the bytes
// after the PROXY header mean, how output is framed, the goodbye before a
// close); the rest (PROXY header, peer, pausing, idle ping and timeout, the
// two-step close) is this class's for both.
//
// Lifetime: made for an accepted descriptor by accept_line_session(), owned
// by the hub's table, freed by Hub::release() from the stream's last close
// callback, never in the middle of a call stack.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/hub/hub.hpp"
#include "parley/hub/session.hpp"
#include "parley/net/read_buffer.hpp"
#include "parley/net/stream.hpp"
#include "parley/protocol/framer.hpp"
#include "parley/protocol/proxy_header.hpp"
#include "parley/socket/cidr.hpp"

namespace parley {

struct LineOptions {
  std::size_t max_line = 65536;
  std::uint64_t ping_interval_ms = 25000;
  std::uint64_t idle_timeout_ms = 120000;
  std::uint64_t drain_timeout_ms = 10000;  // a closing client's time to read what it is owed
  // A proxy listener's connection must send its PROXY header within this
  // (a balancer sends it at once); until then it holds a client slot that
  // no per-IP limit can count yet.
  std::uint64_t proxy_header_timeout_ms = 5000;
  std::vector<Cidr> conn_limit_exempt;     // never counted against --max-conns-per-ip
  // Who may send a PROXY header, on the connections that expect one: empty,
  // anyone; otherwise TCP peers in these blocks alone.
  std::vector<Cidr> trusted_proxies;
};

// What every line session of one server shares; each session holds one
// reference to it, not a copy of each part.
struct LineContext {
  Hub& hub;
  uv_loop_t* loop;
  ReadBuffer& read_buffer;
  LineOptions options;
};

// Takes an accepted, non-blocking descriptor: makes its session, admits it
// (or tells it why not) and starts reading. `peer` is the client's address
// as the logs show it ("unix" for Unix sockets). With `expect_proxy_header`
// (the listener's `,proxy`) the connection must start with a PROXY v1/v2
// header, from a trusted proxy, which then names the client.
void accept_line_session(LineContext& context, int fd, TransportKind transport, std::string peer,
                         bool expect_proxy_header);

class LineSession;
// The part of accepting that every stream session shares: the hub takes
// `session`, which adopts `fd`, is admitted (or told why not) and starts.
void accept_stream_session(Hub& hub, std::unique_ptr<LineSession> session, int fd, bool expect_proxy_header);

class LineSession : public Session, private Stream::Owner {
 public:
  LineSession(LineContext& context, ConnId id, TransportKind transport, std::string peer);

  bool adopt(int fd) { return stream_.adopt(fd); }
  // Starts reading (after the PROXY header, when `expect_proxy_header`)
  // and the idle timer.
  void start(bool expect_proxy_header);
  // Whether this connection's socket peer may send a PROXY header
  // (LineOptions::trusted_proxies).
  bool from_trusted_proxy() const;

  // Session
  void enqueue(const Bytes& bytes, OutputKind kind) override;
  std::size_t pending_bytes() const override { return stream_.outbox().bytes(); }
  std::size_t pending_event_bytes() const override { return stream_.outbox().event_bytes(); }
  void flush() override;
  void resume_input() override;
  void close_transport(CloseReason reason, const Bytes& farewell) override;
  void abort(const Bytes& farewell) override;

  // The peer's IP address without the port: "" for Unix sockets, unless a
  // PROXY header named the client behind one.
  std::string peer_ip() const;
  // What the per-IP limit counts this client under: peer_ip(), or "" (never
  // counted) for it and the exempt address blocks.
  std::string counted_ip() const;

 protected:
  // ---- the hooks a derived transport overrides ----------------------------
  // The client's bytes after the PROXY header: lines, here.
  virtual void on_payload(std::string_view data);
  // Bytes that arrive once the close is decided (read only when a derived
  // transport reads on while closing: a WebSocket awaiting the client's
  // close frame); dropped here.
  virtual void on_payload_while_closing(std::string_view /*data*/) {}
  // Queued after everything else when a close flushes first (a WebSocket's
  // close frame); nothing here.
  virtual void queue_goodbye(CloseReason /*reason*/) {}
  // The farewell as the wire carries it (a WebSocket frames it).
  virtual Bytes wire_farewell(const Bytes& farewell) { return farewell; }
  // What is owed is written: end the connection (a WebSocket may wait for
  // the client's close frame first).
  virtual void finish_close() { stream_.close(); }

  // Stream::Owner (a derived transport may override and call these)
  void on_stream_eof() override;
  void on_stream_timer() override;
  void on_stream_written() override;

  bool on_line(std::string_view line);
  void after_framing(LineFramer::Status status);
  void pause_reading();
  void read_again();
  void fail(CloseReason reason);
  void arm_idle_timer();
  // peer() is now `peer`, the client a proxy in front of us named.
  void rename_peer(std::string peer) {
    set_peer(std::move(peer));
    peer_from_header_ = true;
  }

  LineContext& context_;
  Hub& hub() { return context_.hub; }
  const LineOptions& options() const { return context_.options; }
  Stream stream_;
  LineFramer framer_;
  std::string proxy_buffer_;          // bytes of a PROXY header still incomplete
  std::uint64_t last_input_ms_ = 0;   // loop time of the last complete line
  unsigned pings_sent_ = 0;           // since that line
  bool input_paused_ = false;         // the framer holds lines the hub is not ready for
  bool eof_ = false;
  bool awaiting_proxy_header_ = false;
  bool peer_from_header_ = false;     // peer() is the client a PROXY header named
  bool flushing_to_close_ = false;    // closing after what is queued is written

 private:
  // Stream::Owner
  void on_stream_data(std::string_view data) override;
  void on_stream_error(CloseReason reason) override;
  void on_stream_closed() override;
  ReadBuffer& read_buffer() override { return context_.read_buffer; }

  bool read_proxy_header(std::string_view& data);
  bool take_proxy_header(const ProxyHeader& header);
  void close_health_check();
  void on_idle_timer();
  void maybe_finish_close();
};

}  // namespace parley
