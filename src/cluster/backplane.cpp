#include "parley/cluster/backplane.hpp"

#include "parley/log/log.hpp"

#include <utility>

namespace parley::cluster {

Backplane::Backplane(uv_loop_s* loop, const RedisOptions& options, std::vector<std::string> base, Hooks hooks)
    : conn_(loop, options), base_(std::move(base)), hooks_(std::move(hooks)) {
  conn_.on_up([this] {
    load_library();
    subscribe_base();
  });
  conn_.on_down([this](std::string_view why) {
    loaded_ = false;
    base_subscribed_ = 0;
    lost(why);
  });
  conn_.on_message([this](std::string_view channel, std::string_view payload) {
    if (hooks_.message) hooks_.message(channel, payload);
  });
}

void Backplane::start() { conn_.start(); }

void Backplane::stop(std::function<void()> on_closed) { conn_.stop(std::move(on_closed)); }

// FUNCTION LOAD REPLACE on every connect: a Redis restarted without
// persistence has forgotten the library, and an upgraded server brings a
// new one (the library is versioned by its text, not by a name).
void Backplane::load_library() {
  conn_.command({"FUNCTION", "LOAD", "REPLACE", functions_library}, [this](const RedisReply& reply) {
    if (reply.type == RedisReply::Type::failure) return;  // the connection dropped: on_down said so
    if (!reply.ok()) {
      // A Redis still loading its data (-LOADING: HELLO and SUBSCRIBE pass,
      // FUNCTION LOAD does not), full (-OOM) or a replica (-READONLY): not
      // ready, and nothing in flight would time out, so try again after
      // the backoff.
      log::write(LogLevel::error, 0, "", "backplane: loading the functions failed: " + reply.str);
      conn_.reconnect("loading the functions failed: " + reply.str);
      return;
    }
    loaded_ = true;
    update();
  });
}

void Backplane::subscribe_base() {
  for (const std::string& channel : base_) {
    conn_.subscribe(channel, [this, channel](const RedisReply& reply) {
      if (reply.type == RedisReply::Type::failure) return;  // the connection dropped: on_down said so
      if (!reply.ok()) {
        // An ACL without SUBSCRIBE, say: not ready until a reconnect (after
        // the backoff: the connection did not last) manages it.
        if (!std::exchange(subscribe_failure_logged_, true))
          log::write(LogLevel::error, 0, "", "backplane: subscribing to " + channel + " failed: " + reply.str);
        conn_.reconnect("subscribing to " + channel + " refused: " + reply.str);
        return;
      }
      ++base_subscribed_;
      update();
    });
  }
}

void Backplane::update() {
  const bool now = conn_.up() && loaded_ && base_subscribed_ == base_.size();
  if (now == ready_) return;
  ready_ = now;
  if (now) subscribe_failure_logged_ = false;
  if (now && hooks_.ready) hooks_.ready();
}

void Backplane::lost(std::string_view why) {
  if (!ready_) return;
  ready_ = false;
  if (hooks_.unready) hooks_.unready(why);
}

bool Backplane::call(std::string_view function, const std::vector<std::string_view>& args,
                     RedisConnection::Callback done) {
  if (!can_call()) return false;
  argv_.clear();
  argv_.push_back("FCALL");
  argv_.push_back(function);
  argv_.push_back("0");
  argv_.insert(argv_.end(), args.begin(), args.end());
  return conn_.command(argv_, std::move(done));
}

}  // namespace parley::cluster
