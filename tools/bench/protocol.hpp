// What the loader needs to know about one server's wire protocol: the bytes
// of each request it sends, and an incremental parser that classifies each
// complete frame the server sends back. Parsing must stay cheap: the loader
// has to read a whole server core's worth of deliveries on one core, so no
// adapter parses whole documents on the delivery path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parley::bench {

enum class FrameKind {
  delivery,     // a published message reached us; payload is its text
  ack,          // the reply to one counted request (greet, subscribe, publish, ping, goodbye)
  error_ack,    // a counted request failed; detail says why
  server_ping,  // the server wants a sign of life: answer with pong()
  fatal,        // the server is about to close us; detail says why
  shutdown,     // the server is draining: reconnect after retry_ms (Parley's `shutdown` event)
  quit,         // another user's session ended (Parley's `quit` event); detail is the nick
  ignored,      // anything else (other users' join/part events, the answer to a pong)
  // The transport's own frames (--transport ws, socketio), which the loader
  // handles itself: scenarios never see them.
  transport_ready,  // the transport is open (the upgrade's 101, Socket.IO's connect): greet now
  transport_call,   // answer with transport_answer(): a ping (payload: its data), Engine.IO's open
  transport_close,  // the server closed the transport: the connection is over
};

struct Frame {
  FrameKind kind = FrameKind::ignored;
  std::string_view payload;  // delivery: the message text
  std::uint64_t seq = 0;     // delivery: the channel's seq when the protocol has one, else 0
  std::string_view detail;   // error_ack / fatal: the server's code or message
  std::uint64_t retry_ms = 0;  // shutdown: when the server asks us to come back
  // The whole frame as it came, without its line end, for the few replies
  // that are read in full (Parley's hello, join and history replies: see
  // parley_replies.hpp). Empty for protocols that have none.
  std::string_view line;
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual std::string_view name() const = 0;

  // Each function appends one request to `out`; each of those requests is
  // answered by exactly one ack (or error_ack), except pong().
  virtual void greet(std::string& out, std::string_view nick) const = 0;
  virtual void subscribe(std::string& out, std::string_view channel) const = 0;
  virtual void publish(std::string& out, std::string_view channel, std::string_view text) const = 0;
  // A message to one user: Parley's `msg`; the others publish to the
  // user's inbox, which inbox_subscription() names.
  virtual void direct(std::string& out, std::string_view nick, std::string_view text) const = 0;
  virtual void ping(std::string& out) const = 0;
  virtual void pong(std::string& out) const = 0;
  // Appends the farewell. True: it is acked and the server then closes.
  // False: no ack; the client closes once it is written.
  virtual bool goodbye(std::string& out) const = 0;

  // The channel a user must subscribe to before direct() reaches it, or "".
  virtual std::string inbox_subscription(std::string_view nick) const = 0;
  // Does a publisher that is also subscribed get its own messages back?
  virtual bool echoes_to_sender() const = 0;
  // Once a subscription is acknowledged, do messages published on any of
  // the --server addresses reach it? Parley's join answers after the
  // cluster subscribed; NATS tells its routes of a subscription after
  // acknowledging it, so a publisher on another server can miss the first
  // messages (the loader then waits for probes to arrive: traffic.cpp).
  virtual bool subscribed_everywhere_on_ack() const { return true; }

  // Sessions (Parley's): can a reconnecting client resume its session and
  // page a channel's history after the last seq it saw? The two requests
  // below are for protocols that can (the others throw std::logic_error);
  // each is answered by one ack (or error_ack) whose Frame::line holds the
  // reply to read (parley_replies.hpp).
  virtual bool resumes() const { return false; }
  // `hello` with `resume`: `session` is the token an earlier hello reply gave.
  virtual void resume(std::string& out, std::string_view nick, std::string_view session) const;
  // `history` of `channel` after `after`, at most `limit` messages, oldest first.
  virtual void history_after(std::string& out, std::string_view channel, std::uint64_t after, int limit) const;

  // A transport (--transport ws, socketio) carries a line protocol's lines
  // in messages of its own, and has them classified one by one: `message`
  // is one line without its end. Only line protocols can (the others throw
  // std::logic_error).
  virtual void classify(std::string_view message, Frame& frame) const;
  // Appends what goes out before anything else on a new connection (the
  // upgrade request). True: the scenario greets only at transport_ready.
  virtual bool opening(std::string& /*out*/, std::string_view /*host*/) const { return false; }
  // Appends the answer to a transport_call frame.
  virtual void transport_answer(std::string& /*out*/, const Frame& /*ping*/) const {}

  // Parses the one frame at the start of `in`. Returns the bytes it spans,
  // or 0 when `in` holds only part of it. Throws std::runtime_error on bytes
  // that cannot be this protocol.
  virtual std::size_t next(std::string_view in, Frame& frame) const = 0;
};

// "parley", "redis" or "nats"; nullptr for anything else.
std::unique_ptr<Protocol> make_protocol(std::string_view name);

std::unique_ptr<Protocol> make_parley_protocol();
std::unique_ptr<Protocol> make_redis_protocol();
std::unique_ptr<Protocol> make_nats_protocol();

// A line protocol (`inner`: Parley's) carried over WebSocket: "ws" (one
// masked text frame per line, GET /ws with subprotocol parley.v1) or
// "socketio" (each line a Socket.IO event "m" over Engine.IO v4 on
// WebSocket: 42["m",LINE]); nullptr for any other transport.
std::unique_ptr<Protocol> make_transport(std::string_view transport, std::unique_ptr<Protocol> inner);

}  // namespace parley::bench
