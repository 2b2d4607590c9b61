#include "parley/cluster/backplane.hpp"

#include "parley/log/log.hpp"

#include <utility>

namespace parley::cluster {
namespace {

RedisOptions named(RedisOptions options, std::string_view role) {
  options.client_name = options.client_name.empty() ? std::string(role) : options.client_name + "-" + std::string(role);
  return options;
}

}  // namespace

Backplane::Backplane(uv_loop_s* loop, const RedisOptions& options, std::vector<std::string> base, Hooks hooks)
    : cmd_(loop, named(options, "cmd")),
      sub_(loop, named(options, "sub")),
      base_(std::move(base)),
      hooks_(std::move(hooks)) {
  cmd_.on_up([this] { load_library(); });
  cmd_.on_down([this](std::string_view why) {
    loaded_ = false;
    lost(why);
  });
  sub_.on_up([this] { subscribe_base(); });
  sub_.on_down([this](std::string_view why) {
    base_subscribed_ = 0;
    lost(why);
  });
  sub_.on_message([this](std::string_view channel, std::string_view payload) {
    if (hooks_.message) hooks_.message(channel, payload);
  });
}

void Backplane::start() {
  cmd_.start();
  sub_.start();
}

void Backplane::stop(std::function<void()> on_closed) {
  auto left = std::make_shared<int>(2);
  auto done = [left, on_closed = std::move(on_closed)] {
    if (--*left == 0 && on_closed) on_closed();
  };
  cmd_.stop(done);
  sub_.stop(done);
}

// FUNCTION LOAD REPLACE on every connect: a Redis restarted without
// persistence has forgotten the library, and an upgraded server brings a
// new one (the library is versioned by its text, not by a name).
void Backplane::load_library() {
  cmd_.command({"FUNCTION", "LOAD", "REPLACE", functions_library}, [this](const RedisReply& reply) {
    if (!reply.ok()) {
      log::write(LogLevel::error, 0, "", "backplane: loading the functions failed: " + reply.str);
      return;  // the connection stays up but not ready; the next reconnect tries again
    }
    loaded_ = true;
    update();
  });
}

void Backplane::subscribe_base() {
  for (const std::string& channel : base_) {
    sub_.subscribe(channel, [this, channel](const RedisReply& reply) {
      if (!reply.ok()) {  // an ACL without SUBSCRIBE, say: not ready until a reconnect manages it
        if (!std::exchange(subscribe_failure_logged_, true))
          log::write(LogLevel::error, 0, "", "backplane: subscribing to " + channel + " failed: " + reply.str);
        return;
      }
      ++base_subscribed_;
      update();
    });
  }
}

void Backplane::update() {
  const bool now = cmd_.up() && sub_.up() && loaded_ && base_subscribed_ == base_.size();
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
  return cmd_.command(argv_, std::move(done));
}

}  // namespace parley::cluster
