// The backplane's one Redis connection, for the functions (every state
// change and every read is one FCALL of src/cluster/parley.lua, loaded on
// each connect) and the subscriptions to the channels this server has
// members in, together (RESP3: a say's own message and its reply come back
// in one read). Ready once it is up, the library is loaded and the
// server's own channels (users, its node's) are subscribed; the owner is
// told when that changes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/cluster/redis_connection.hpp"

struct uv_loop_s;

namespace parley::cluster {

// The library's text (embedded at build time from src/cluster/parley.lua).
extern const std::string_view functions_library;

class Backplane {
 public:
  struct Hooks {
    std::function<void()> ready;                          // each time it becomes ready
    std::function<void(std::string_view why)> unready;    // each time it stops being ready
    RedisConnection::MessageHandler message;              // a pub/sub message
  };

  // `base` are the channels subscribed for as long as the server runs.
  Backplane(uv_loop_s* loop, const RedisOptions& options, std::vector<std::string> base, Hooks hooks);

  void start();
  void stop(std::function<void()> on_closed);
  bool ready() const { return ready_; }
  // Functions can run (the connection is up, the library loaded), though
  // the base channels may not be subscribed yet.
  bool can_call() const { return conn_.up() && loaded_; }

  // FCALL `function` with no keys and `args`. False (nothing sent, `done`
  // never called) when not ready or at the in-flight bound.
  bool call(std::string_view function, const std::vector<std::string_view>& args, RedisConnection::Callback done);
  bool subscribe(std::string_view channel, RedisConnection::Callback done) {
    return conn_.subscribe(channel, std::move(done));
  }
  bool unsubscribe(std::string_view channel) { return conn_.unsubscribe(channel); }
  // Drops the connection and connects again after the backoff (a
  // subscription Redis refused that the server cannot do without).
  void reconnect(std::string_view why) { conn_.reconnect(why); }

  const RedisStats& stats() const { return conn_.stats(); }
  void on_latency(std::function<void(std::int64_t micros)> handler) { conn_.on_latency(std::move(handler)); }

 private:
  void load_library();
  void subscribe_base();
  void update();
  void lost(std::string_view why);

  RedisConnection conn_;
  std::vector<std::string> base_;
  Hooks hooks_;
  bool loaded_ = false;          // the library is loaded since the connection came up
  std::size_t base_subscribed_ = 0;
  bool subscribe_failure_logged_ = false;  // once per outage, not once per reconnect
  bool ready_ = false;
  std::vector<std::string_view> argv_;  // reused by call(): no allocation per command once grown
};

}  // namespace parley::cluster
