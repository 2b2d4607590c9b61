// One connection to Redis on the loop, with hiredis's protocol code and our
// own event glue (hiredis's libuv adapter ignores poll errors and has no
// timeouts). Nothing here blocks: names are resolved with uv_getaddrinfo,
// connects are non-blocking and bounded by a timer, every command is bounded
// by a timer (one timer for the oldest command: replies come back in order)
// and by the number in flight.
//
// Lifecycle: start() connects; when the connection fails or drops, every
// command in flight fails (callback with a `failure` reply), on_down runs,
// and it reconnects after a backoff (min..max, doubling, with jitter) until
// stop(). A command that times out drops the connection the same way: a
// Redis that does not answer one command in time is not answering the next
// either, and this keeps what waits bounded.
//
// Re-entrancy: callbacks run from the loop, never inside command() or
// subscribe(); a callback may issue further commands, or stop().
//
// hiredis writes with write(2), not send(MSG_NOSIGNAL): the process must
// ignore SIGPIPE (parleyd does), or a write to a Redis that just went away
// kills it.
//
// Destroying: after on_closed ran, or before start(). Destroyed earlier (a
// callback may do it), it forgets every callback, calls none of them again,
// and finishes closing its handles on the loop by itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/cluster/redis_address.hpp"
#include "parley/cluster/redis_reply.hpp"

struct uv_loop_s;

namespace parley::cluster {

struct RedisOptions {
  RedisAddress address;
  std::int64_t connect_timeout_ms = 2000;  // resolve + connect + handshake
  std::int64_t command_timeout_ms = 2000;  // each command's reply
  std::size_t max_in_flight = 10000;       // commands awaiting a reply
  std::int64_t backoff_min_ms = 100;
  std::int64_t backoff_max_ms = 5000;
  std::string client_name;                 // CLIENT SETNAME, for CLIENT LIST
  ReplyLimits reply_limits;
};

struct RedisStats {
  std::uint64_t connects = 0;     // successful connects (the first included)
  std::uint64_t disconnects = 0;  // connections lost after being up
  std::uint64_t timeouts = 0;     // commands that timed out
  std::uint64_t refused = 0;      // commands refused (down, or in-flight bound)
  std::uint64_t connect_failures = 0;  // attempts that never came up (each is retried)
};

class RedisConnection {
 public:
  using Callback = std::function<void(const RedisReply&)>;
  // A pub/sub message: the channel and the payload, valid during the call.
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;

  RedisConnection(uv_loop_s* loop, RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs when the connection is up (after the handshake: CLIENT SETNAME),
  // each time, and when it goes down (with why), each time it was up.
  void on_up(std::function<void()> handler);
  void on_down(std::function<void(std::string_view why)> handler);
  // For a subscriber connection: where messages go.
  void on_message(MessageHandler handler);
  // Runs after each attempt that did not come up (resolving, connecting or
  // the handshake failed or timed out), with why and the delay before the
  // next attempt: nothing else tells the owner why Redis stays unreachable.
  void on_connect_failed(std::function<void(std::string_view why, std::int64_t retry_in_ms)> handler);

  void start();
  // Fails what is in flight, closes every handle; `on_closed` runs once all
  // are closed (the connection may then be destroyed). From the loop: the
  // failures, then on_down (if it was up), then on_closed; at once, inside
  // stop(), only when start() never ran. A second stop() does nothing.
  void stop(std::function<void()> on_closed);

  bool up() const;
  std::size_t in_flight() const;
  const RedisStats& stats() const;

  // Sends one command. Returns false, and never calls `done`, when the
  // connection is not up or max_in_flight commands await replies. Otherwise
  // `done` runs exactly once, later: with the reply, or with a `failure`.
  // The arguments are copied before command() returns.
  // Also refused: an empty argv, the pub/sub commands, MONITOR, RESET and
  // HELLO (use subscribe(); hiredis 0.14 routes their replies apart or
  // cannot read them), and any command on a connection that has subscribed
  // since it came up (hiredis 0.14 matches replies there by channel name, so
  // an ordinary reply could be taken for a message).
  bool command(const std::vector<std::string_view>& argv, Callback done);

  // Pub/sub (a connection that subscribes does nothing else): `done` runs
  // once the subscription is confirmed (an ok reply) or failed. Messages
  // then go to the on_message handler. The same rules as command().
  // Messages for a channel stop at unsubscribe() (later ones are dropped);
  // unsubscribe() returns false for a channel not subscribed. Subscriptions
  // end with the connection: the owner subscribes again in on_up. A
  // confirmation is bounded like any reply, but an idle subscriber has
  // nothing in flight: a Redis that stops answering without closing the
  // socket goes unnoticed there until the next (un)subscribe.
  bool subscribe(std::string_view channel, Callback done);
  bool unsubscribe(std::string_view channel);

  // Measured per command, send to reply, for the latency histogram.
  void on_latency(std::function<void(std::int64_t micros)> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::cluster
