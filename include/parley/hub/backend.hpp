// Where the hub sends requests: the chat state, local or shared.
//
// The local backend answers every request at once. A backend that keeps its
// state elsewhere (the Redis backplane, cluster/) answers some of them only
// after a round trip: handle() then returns nullopt and later calls
// Hub::answer() with the outcome. Meanwhile the hub holds the session's
// further requests (reading paused, lines kept by the transport), unless
// the backend pipelines(): then up to HubConfig::max_pipeline go to it
// before the first is answered. Replies come back in request order either way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/chat/command.hpp"
#include "parley/chat/core.hpp"
#include "parley/chat/outcome.hpp"

namespace parley {

// What the chat state says of one session, for the admin endpoints.
struct SessionView {
  std::optional<std::string> nick;  // nullopt before `hello`
  std::vector<std::string> channels;
};

// Sizes of the chat state, for the metrics.
struct ChatSizes {
  std::size_t users = 0;     // registered nicks
  std::size_t channels = 0;
  std::size_t held = 0;      // sessions held for a resume
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual void connect(ConnId conn) = 0;
  // The outcome now, or nullopt when Hub::answer(conn, ...) will bring it.
  virtual std::optional<Outcome> handle(ConnId conn, ChatRequest request, std::int64_t now_ms) = 0;
  // The connection is gone; `reason` is the `quit` event's, if its session
  // ends now rather than being held for a resume.
  virtual Outcome disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) = 0;
  // What ended by `now_ms` (held sessions whose grace is over), and when
  // the next thing will.
  virtual Outcome expire(std::int64_t now_ms) = 0;
  virtual std::optional<std::int64_t> next_expiry() const = 0;
  // Read-only views (the admin endpoints; never on the hot path).
  virtual SessionView view(ConnId conn) const = 0;
  virtual ChatSizes sizes() const = 0;
  // Whether the session's next request may be handled while its earlier
  // ones are still deferred. A backend that says so answers each session's
  // deferred requests in the order they came (the hub keeps the replies in
  // that order, and those answered at once behind them). The local backend
  // never defers, so it never needs to.
  virtual bool pipelines(ConnId) const { return false; }
  // Why this server cannot take clients now (the backplane is down), or
  // empty when it can: /readyz says so.
  virtual std::string_view unready() const { return {}; }
};

// The chat state of this process alone.
class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(Core& core) : core_(core) {}
  void connect(ConnId conn) override { core_.connect(conn); }
  std::optional<Outcome> handle(ConnId conn, ChatRequest request, std::int64_t now_ms) override {
    return core_.handle(conn, std::move(request), now_ms);
  }
  Outcome disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) override {
    return core_.disconnect(conn, reason, now_ms);
  }
  Outcome expire(std::int64_t now_ms) override { return core_.expire(now_ms); }
  std::optional<std::int64_t> next_expiry() const override { return core_.next_expiry(); }
  SessionView view(ConnId conn) const override { return {core_.nick_of(conn), core_.channels_of(conn)}; }
  ChatSizes sizes() const override { return {core_.user_count(), core_.channel_count(), core_.held_count()}; }

 private:
  Core& core_;
};

}  // namespace parley
