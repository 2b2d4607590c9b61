#include "parley/cluster/cluster_backend.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"

// Requests in, answers out: construction, start and stop, the dispatch of
// each request to its function, and the answers, which go to the hub in
// the order the requests came (the other parts: cluster_backend.hpp).

namespace parley::cluster {
namespace {

std::string random_suffix() {
  std::random_device random;
  char text[16];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(random()));
  return text;
}

// The connection's name in CLIENT LIST says which server it is:
// "parleyd-NODE~INSTANCE".
RedisOptions named_for(RedisOptions options, const std::string& node) {
  options.client_name += (options.client_name.empty() ? "" : "-") + node;
  return options;
}

}  // namespace

ClusterBackend::ClusterBackend(uv_loop_s* loop, ClusterConfig config, Limits limits, ServerInfo info)
    : config_(std::move(config)),
      limits_(limits),
      info_(std::move(info)),
      node_(info_.node + "~" + random_suffix()),
      users_channel_(config_.prefix + ":users"),
      node_channel_(config_.prefix + ":to:" + node_),
      channel_prefix_(config_.prefix + ":{c:"),
      backplane_(loop, named_for(config_.redis, node_), {users_channel_, node_channel_},
                 {[this] { on_ready(); }, [this](std::string_view why) { on_unready(why); },
                  [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); }}),
      lease_timer_(std::make_unique<uv_timer_t>()),
      says_(config_.prefix, std::to_string(limits_.history), config_.say_batch, config_.say_batch_bytes),
      flush_check_(std::make_unique<uv_check_t>()),
      flush_idle_(std::make_unique<uv_idle_t>()) {
  uv_timer_init(loop, lease_timer_.get());
  lease_timer_->data = this;
  uv_check_init(loop, flush_check_.get());
  flush_check_->data = this;
  uv_idle_init(loop, flush_idle_.get());
}

ClusterBackend::~ClusterBackend() = default;

Outcome ClusterBackend::failure(ErrorCode code, std::string message) {
  Outcome out;
  out.reply = ErrorReply{code, std::move(message), std::nullopt};
  return out;
}

void ClusterBackend::start() {
  log::info("backplane: node " + node_ + " on " + config_.redis.address.to_string() + ", prefix " + config_.prefix);
  backplane_.start();
  // Every sixth of the lease: renew_lease() then finds a renewal two thirds
  // old at most a sixth late, a sixth of the lease before it can expire.
  const auto every = static_cast<std::uint64_t>(std::max<std::int64_t>(config_.node_lease_ms / 6, 50));
  uv_timer_start(lease_timer_.get(), on_lease_timer, every, every);
}

void ClusterBackend::stop(std::function<void()> on_closed) {
  uv_timer_stop(lease_timer_.get());
  // Says still waiting go before the leave; the sessions that sent them are
  // gone by now (the drain is over), so what could not be sent is dropped.
  send_all_says();
  unsent_says_.clear();
  uv_check_stop(flush_check_.get());
  uv_idle_stop(flush_idle_.get());
  uv_close(reinterpret_cast<uv_handle_t*>(flush_check_.get()), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(flush_idle_.get()), nullptr);
  flush_armed_ = true;  // closed: arm_flush() never starts them again
  auto finish = [this, on_closed = std::move(on_closed)]() mutable {
    uv_close(reinterpret_cast<uv_handle_t*>(lease_timer_.get()), nullptr);
    backplane_.stop(std::move(on_closed));
  };
  // Everything sent before (the drained sessions' holds) is answered first.
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  if (!call("parley_leave", {config_.prefix, node_}, [shared_finish](const RedisReply&) { (*shared_finish)(); }))
    (*shared_finish)();
}

void ClusterBackend::connect(ConnId conn) { users_[conn].conn = conn; }

bool ClusterBackend::call(std::string_view function, const std::vector<std::string_view>& args,
                          RedisConnection::Callback done) {
  return backplane_.call(function, args, std::move(done));
}

Outcome ClusterBackend::unavailable() {
  ++stats_.unavailable;
  Outcome out;
  out.reply = ErrorReply{ErrorCode::unavailable, "the cluster's backplane is unreachable; try again", config_.retry_ms};
  return out;
}

// The hub takes a session's answers in request order: one that comes early
// (a say waiting for its channel, below, held back a later request's) waits.
void ClusterBackend::complete(ConnId conn, std::uint64_t ticket, Outcome outcome, std::function<void()> after) {
  auto it = users_.find(conn);
  if (it == users_.end()) {  // its events still go out
    hub_->answer(conn, std::move(outcome));
    if (after) after();
    return;
  }
  User& user = it->second;
  if (ticket != user.answered) {
    user.early.emplace(ticket, User::Early{std::move(outcome), std::move(after)});
    return;
  }
  ++user.answered;
  hub_->answer(conn, std::move(outcome));
  if (after) after();
  while (true) {  // `user` may be gone now: look it up again
    auto u = users_.find(conn);
    if (u == users_.end() || u->second.early.empty() || u->second.early.begin()->first != u->second.answered) return;
    User::Early next = std::move(u->second.early.begin()->second);
    u->second.early.erase(u->second.early.begin());
    ++u->second.answered;
    hub_->answer(conn, std::move(next.outcome));
    if (next.after) next.after();
  }
}

void ClusterBackend::complete_blocking(ConnId conn, std::uint64_t ticket, Outcome outcome, std::function<void()> after) {
  if (auto it = users_.find(conn); it != users_.end()) it->second.blocking = false;
  complete(conn, ticket, std::move(outcome), std::move(after));
}

bool ClusterBackend::pipelines(ConnId conn) const {
  auto it = users_.find(conn);
  return it != users_.end() && it->second.registered && !it->second.blocking;
}

// Each command either answers now (an Outcome) or has sent its function
// and answers from the reply's callback (nullopt).
std::optional<Outcome> ClusterBackend::handle(ConnId conn, ChatRequest request, std::int64_t now_ms) {
  auto it = users_.find(conn);
  if (it == users_.end()) return failure(ErrorCode::internal, "unknown connection");
  User& user = it->second;
  if (std::optional<Outcome> refused = gate_request(user.gate, limits_, request, user.registered, now_ms))
    return refused;
  Command& command = std::get<Command>(request.body);
  if (std::holds_alternative<Ping>(command)) return Outcome{};
  // quit always works, the backplane down or not: a registered session's
  // quit (its reason, no hold) goes to Redis now or, kept by quit(), once
  // Redis is back. parley_quit names the owner, so a lease gone stale
  // meanwhile cannot end a session another server took over.
  if (auto* q = std::get_if<Quit>(&command)) {
    if (user.registered) {
      send_says_of(conn);
      const std::uint64_t tickets_before = user.tickets;
      if (quit(user, *q)) return std::nullopt;
      user.tickets = tickets_before;  // answered now: no place taken
    }
    Outcome out;
    out.close = true;
    return out;
  }
  if (!served_ || !backplane_.can_call() || lease_stale_) return unavailable();
  // Its says still waiting for the end of the turn go first: Redis runs a
  // session's requests in the order they came.
  if (!std::holds_alternative<Say>(command)) send_says_of(conn);
  // Each handler sends its function and answers from the reply; false when
  // it could not be sent (the bound on commands in flight, or the
  // connection dropped just now), so nothing waits: answer now.
  const std::uint64_t tickets_before = user.tickets;
  std::optional<Outcome> result = std::visit(
      [&](auto& c) -> std::optional<Outcome> {
        using C = std::decay_t<decltype(c)>;
        bool sent = false;
        if constexpr (std::is_same_v<C, Hello>) {
          if (user.registered) return failure(ErrorCode::already_registered, "already registered");
          if (info_.auth_token && c.token != info_.auth_token)
            return failure(ErrorCode::auth_failed, "missing or wrong token");
          sent = hello(user, c);
        } else if constexpr (std::is_same_v<C, NickCmd>) {
          if (c.nick == user.nick) {
            Outcome out;
            out.reply = NickReply{user.nick};
            return out;
          }
          sent = nick(user, c);
        } else if constexpr (std::is_same_v<C, Join>) {
          sent = join(user, c);
        } else if constexpr (std::is_same_v<C, Part>) {
          sent = part(user, c);
        } else if constexpr (std::is_same_v<C, Say>) {
          sent = say(user, c, now_ms);
        } else if constexpr (std::is_same_v<C, Msg>) {
          sent = msg(user, c, now_ms);
        } else if constexpr (std::is_same_v<C, TopicCmd>) {
          sent = topic(user, c);
        } else if constexpr (std::is_same_v<C, List>) {
          sent = list(user);
        } else if constexpr (std::is_same_v<C, Members>) {
          sent = members(user, c);
        } else if constexpr (std::is_same_v<C, History>) {
          sent = history(user, c);
        } else if constexpr (std::is_same_v<C, Quit>) {
          return failure(ErrorCode::internal, "quit is answered above");
        }
        if (sent) return std::nullopt;
        return unavailable();
      },
      command);
  if (result) user.tickets = tickets_before;  // nothing deferred: no place taken
  return result;
}

// The session a command's reply is for when the function succeeded;
// nullptr when the session is gone, or when the reply was a failure, which
// this answers (unavailable, or the function's refusal).
ClusterBackend::User* ClusterBackend::succeeded(ConnId conn, std::uint64_t ticket, const std::string& typed,
                                                const RedisReply& reply) {
  auto it = users_.find(conn);
  if (it == users_.end()) return nullptr;
  if (!reply.ok()) {
    complete(conn, ticket, unavailable());
    return nullptr;
  }
  if (reply.at(0).str != "ok") {
    complete(conn, ticket, channel_error(reply, typed, it->second));
    return nullptr;
  }
  return &it->second;
}

// An error reply for the channel commands' refusals.
Outcome ClusterBackend::channel_error(const RedisReply& reply, const std::string& typed, User& user) {
  const std::string& status = reply.at(0).str;
  if (status == "no_such_channel") return failure(ErrorCode::no_such_channel, "no channel " + typed);
  if (status == "not_in_channel") return failure(ErrorCode::not_in_channel, "not in channel " + reply.at(1).str);
  if (status == "no_such_nick") return failure(ErrorCode::no_such_nick, "no user with that nick");
  return gone(user);
}

// The backplane no longer lists this connection as its session's (its
// server was found lost, or Redis forgot it): it ends, with no word to
// Redis, as a drain would end it, so the client reconnects and registers.
Outcome ClusterBackend::gone(User& user) {
  forget(user);
  Outcome out = unavailable();
  out.fatal = Error{ErrorCode::shutting_down, "the cluster lost this session; reconnect"};
  return out;
}

SessionView ClusterBackend::view(ConnId conn) const {
  SessionView v;
  auto it = users_.find(conn);
  if (it == users_.end() || !it->second.registered) return v;
  v.nick = it->second.nick;
  for (const std::string& key : it->second.channels)
    if (auto c = channels_.find(key); c != channels_.end()) v.channels.push_back(c->second.name);
  return v;
}

ChatSizes ClusterBackend::sizes() const { return {by_key_.size(), channels_.size(), held_}; }

std::string_view ClusterBackend::unready() const {
  if (!backplane_.ready()) return "backplane down";
  if (lease_stale_) return "backplane lease not renewed";
  return {};
}

}  // namespace parley::cluster
