// One connection to Redis on the loop, for commands and pub/sub together:
// RESP3 (`HELLO 3`), so that messages arrive as pushes between the replies,
// in the order Redis ran them. Our own code throughout (hiredis 0.14 reads
// only RESP2): a libuv stream, a command buffer written once per loop turn,
// and RespReader. Nothing here blocks: names are resolved with
// uv_getaddrinfo, connects are non-blocking and bounded by a timer, every
// command is bounded by a timer (one timer for the oldest command: replies
// come back in order) and by the number in flight.
//
// Lifecycle: start() connects; when the connection fails or drops, every
// command in flight fails (callback with a `failure` reply), on_down runs,
// and it reconnects after a backoff (min..max, doubling, with jitter) until
// stop(). A command that times out drops the connection the same way: a
// Redis that does not answer one command in time is not answering the next
// either, and this keeps what waits bounded. So does a reply over
// `reply_limits` (RespReader cannot skip it and stay in step).
//
// Re-entrancy: callbacks run from the loop, never inside command() or
// subscribe(); a callback may issue further commands, or stop().
//
// libuv writes with write(2), not send(MSG_NOSIGNAL): the process must
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
#include "parley/cluster/resp_reader.hpp"

struct uv_loop_s;

namespace parley::cluster {

struct RedisOptions {
  RedisAddress address;
  std::int64_t connect_timeout_ms = 2000;  // resolve + connect + handshake
  std::int64_t command_timeout_ms = 2000;  // each command's reply
  std::size_t max_in_flight = 10000;       // commands awaiting a reply
  std::int64_t backoff_min_ms = 100;
  std::int64_t backoff_max_ms = 5000;
  std::string client_name;                 // HELLO's SETNAME, for CLIENT LIST
  RespLimits reply_limits;
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

  // Runs when the connection is up (after the handshake: HELLO 3),
  // each time, and when it goes down (with why), each time it was up.
  void on_up(std::function<void()> handler);
  void on_down(std::function<void(std::string_view why)> handler);
  // Where pub/sub messages go.
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

  // Drops the connection, if up or connecting, and connects again after
  // the backoff (what the owner does when Redis refused something a
  // reconnect may cure: a SUBSCRIBE an ACL forbids, say). `why` is what
  // on_down says.
  void reconnect(std::string_view why);

  bool up() const;
  std::size_t in_flight() const;
  const RedisStats& stats() const;

  // Sends one command. Returns false, and never calls `done`, when the
  // connection is not up or max_in_flight commands await replies. Otherwise
  // `done` runs exactly once, later: with the reply, or with a `failure`.
  // The arguments are copied before command() returns.
  // Also refused: an empty argv, the pub/sub commands, MONITOR, RESET and
  // HELLO (their replies do not come one per command, in order).
  bool command(const std::vector<std::string_view>& argv, Callback done);

  // Pub/sub, on the same connection as the commands: `done` runs once the
  // subscription is confirmed (an ok reply: the `subscribe` push) or
  // refused (an error reply: then, unless it was subscribed already, it is
  // not, and unsubscribe() returns false). Messages then go to the
  // on_message handler.
  // The same rules as command(). Messages for a channel stop at
  // unsubscribe() (later ones are dropped); unsubscribe() returns false for
  // a channel not subscribed. Subscriptions end with the connection: the
  // owner subscribes again in on_up.
  bool subscribe(std::string_view channel, Callback done);
  bool unsubscribe(std::string_view channel);

  // Measured per command, send to reply, for the latency histogram.
  void on_latency(std::function<void(std::int64_t micros)> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::cluster
