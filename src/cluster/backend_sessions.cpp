#include "parley/cluster/cluster_backend.hpp"

#include <uv.h>

#include <algorithm>
#include <chrono>

#include "parley/chat/names.hpp"
#include "parley/chat/session_token.hpp"
#include "parley/cluster/bus_message.hpp"
#include "parley/cluster/function_replies.hpp"
#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"
#include "parley/protocol/encode.hpp"

// Sessions: hello (new or resumed), nick, msg, quit, what a close leaves
// (a hold), the sweep that ends held sessions, and this server's lease.

namespace parley::cluster {
namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

bool ClusterBackend::hello(User& user, const Hello& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  std::string key = fold(c.nick);
  std::string token = to_text(new_session_token());
  std::string resume;
  if (c.resume)
    if (const std::optional<SessionToken> t = parse_session_token(*c.resume)) resume = to_text(*t);
  const std::string own = owner(conn);
  user.blocking = true;  // nothing else runs until it is registered
  const std::string now = std::to_string(wall_ms());
  const bool sent = call("parley_hello", {config_.prefix, key, c.nick, token, node_, own, resume, now},
              [this, conn, ticket, key, token, own, nick = c.nick](const RedisReply& reply) {
                auto it = users_.find(conn);
                const std::string& status = reply.at(0).str;
                const bool registered = reply.ok() && (status == "ok" || status == "resumed");
                if (it == users_.end()) {  // closed meanwhile: hold or end what it registered
                  if (registered)
                    end_remotely(key, own, status == "resumed" ? reply.at(1).str : nick, "connection closed",
                                 info_.resume_grace_ms > 0, wall_ms());
                  return;
                }
                if (!reply.ok()) return complete_blocking(conn, ticket, unavailable());
                if (status == "nick_in_use") return complete_blocking(conn, ticket, failure(ErrorCode::nick_in_use, "nick is in use"));
                if (!registered) return complete_blocking(conn, ticket, failure(ErrorCode::internal, "backplane: " + status));
                User& u = it->second;
                u.registered = true;
                u.key = key;
                if (status == "ok") {
                  u.nick = nick;
                  u.session = token;
                  by_key_[key] = conn;
                  Outcome out;
                  out.reply = Welcome{u.nick, info_.name, info_.version, 1, info_.node, info_.features,
                                      limits_.max_line, limits_.max_text, limits_.max_channels, u.session, false, {}};
                  return complete_blocking(conn, ticket, std::move(out));
                }
                u.nick = reply.at(1).str;
                u.session = reply.at(2).str;
                std::optional<ConnId> replaced;
                if (const ConnId old = local_conn(reply.at(3).str, node_); old && old != conn) {
                  if (auto o = users_.find(old); o != users_.end()) forget(o->second);  // no word to Redis
                  replaced = old;
                }
                by_key_[key] = conn;
                welcome_resumed(conn, ticket, reply, replaced);
              });
  if (!sent) user.blocking = false;
  return sent;
}

// A resumed session: subscribe to each of its channels, then answer with
// where each stands. Each feed is anchored at the seq the hello read; what
// was published before the subscription took effect is repaired from
// history when the next message shows the hole.
void ClusterBackend::welcome_resumed(ConnId conn, std::uint64_t ticket, const RedisReply& reply,
                                     std::optional<ConnId> replaced) {
  struct Pending {
    std::vector<ResumedChannel> channels;
    std::size_t left = 0;
    std::optional<ConnId> replaced;
    bool unsubscribed = false;  // a subscription failed or was refused
  };
  auto pending = std::make_shared<Pending>();
  pending->replaced = replaced;
  for (std::size_t i = 4; i + 2 < reply.elements.size(); i += 3) {
    pending->channels.push_back({reply.at(i).str, unsigned_of(reply.at(i + 1)), reply.at(i + 2).str});
  }
  std::sort(pending->channels.begin(), pending->channels.end(),
            [](const ResumedChannel& a, const ResumedChannel& b) { return fold(a.channel) < fold(b.channel); });
  auto finish = [this, conn, ticket, pending] {
    auto it = users_.find(conn);
    if (it == users_.end() || pending->unsubscribed) {  // nobody to add
      for (const ResumedChannel& rc : pending->channels) {
        const std::string key = fold(rc.channel);
        --channel(key).joining;
        maybe_unsubscribe(key);
      }
      // closed meanwhile: held again by its disconnect
      if (it == users_.end()) return;
      // A channel it would receive nothing from: the session is held again
      // (Redis named this connection its owner) and the client told to try
      // again, rather than resumed deaf to that channel.
      User& u = it->second;
      const std::string key = u.key, nick = u.nick;
      forget(u);
      end_remotely(key, owner(conn), nick, "connection closed", info_.resume_grace_ms > 0, wall_ms());
      Outcome out = unavailable();
      out.replaced = pending->replaced;
      return complete_blocking(conn, ticket, std::move(out));
    }
    User& u = it->second;
    for (ResumedChannel& rc : pending->channels) {
      const std::string key = fold(rc.channel);
      LocalChannel& ch = channel(key);
      --ch.joining;
      if (ch.name.empty()) ch.name = rc.channel;
      if (ch.epoch.empty()) ch.epoch = rc.epoch;
      // The subscriptions are answered after the hello ran, so the feed of
      // a channel others here are in may have delivered past the head the
      // hello read. Those messages are in the history: the reply names the head
      // the feed is at, the client catches up to it, and it receives what
      // comes after it live (rather than never receiving what lay between).
      if (ch.feed().anchored() && ch.epoch == rc.epoch && ch.feed().delivered() > rc.seq)
        rc.seq = ch.feed().delivered();
      ch.add(conn, rc.seq);
      if (!ch.feed().anchored()) {
        FeedSink sink(*this, ch);
        ch.feed().anchor(rc.seq, sink);
      }
      if (std::find(u.channels.begin(), u.channels.end(), key) == u.channels.end()) u.channels.push_back(key);
    }
    Outcome out;
    out.reply = Welcome{u.nick, info_.name, info_.version, 1, info_.node, info_.features, limits_.max_line,
                        limits_.max_text, limits_.max_channels, u.session, true, pending->channels};
    out.replaced = pending->replaced;
    complete_blocking(conn, ticket, std::move(out));
  };
  pending->left = pending->channels.size() + 1;
  auto one_done = [pending, finish](bool ok) {
    if (!ok) pending->unsubscribed = true;
    if (--pending->left == 0) finish();
  };
  for (const ResumedChannel& rc : pending->channels) {
    LocalChannel& ch = channel(fold(rc.channel));
    ++ch.joining;
    if (!subscribe(ch, one_done)) one_done(false);
  }
  one_done(true);
}

bool ClusterBackend::nick(User& user, const NickCmd& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.nick);
  const std::string line = *encode_event(NickChanged{user.nick, c.nick});
  user.blocking = true;  // what follows names the session by its new nick
  const bool sent = call("parley_nick", {config_.prefix, user.key, key, c.nick, owner(conn), line},
              [this, conn, ticket, key, nick = c.nick](const RedisReply& reply) {
                auto it = users_.find(conn);
                if (it == users_.end()) return;
                if (!reply.ok()) return complete_blocking(conn, ticket, unavailable());
                const std::string& status = reply.at(0).str;
                if (status == "nick_in_use") return complete_blocking(conn, ticket, failure(ErrorCode::nick_in_use, "nick is in use"));
                if (status != "ok") return complete_blocking(conn, ticket, gone(it->second));
                User& u = it->second;
                by_key_.erase(u.key);
                u.nick = nick;
                u.key = key;
                by_key_[key] = conn;
                Outcome out;
                out.reply = NickReply{nick};
                complete_blocking(conn, ticket, std::move(out));
              });
  if (!sent) user.blocking = false;
  return sent;
}

bool ClusterBackend::msg(User& user, Msg& c, std::int64_t now) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const EventTemplate t = event_template(ChatMessage{{}, user.nick, c.to, c.text, 0, now});
  return call("parley_msg", {config_.prefix, fold(c.to), user.key, owner(conn), t.head, t.middle},
              [this, conn, ticket, now, typed = c.to](const RedisReply& reply) {
                User* user = succeeded(conn, ticket, typed, reply);
                if (!user) return;
                Outcome out;
                out.reply = ChatAck{{}, reply.at(1).str, 0, now};
                complete(conn, ticket, std::move(out));
              });
}

bool ClusterBackend::quit(User& user, const Quit& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  std::string line = *encode_event(UserQuit{user.nick, c.reason.value_or("quit")});
  const std::string own = owner(conn);
  const std::string key = user.key;
  forget(user);  // its close is no hold: the quit ends it
  Orphan end{key, own, std::move(line), {}};
  auto done = [this, conn, ticket, end](const RedisReply& reply) {
    if (reply.type == RedisReply::Type::failure) remember(end);
    Outcome out;
    out.close = true;
    complete(conn, ticket, std::move(out));
  };
  const bool sent = call("parley_quit", {config_.prefix, key, own, end.line}, done);
  if (!sent) remember(std::move(end));
  return sent;
}

Outcome ClusterBackend::disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) {
  auto it = users_.find(conn);
  if (it == users_.end()) return {};
  User& user = it->second;
  send_says_of(conn);  // before its hold: they ran before it did when sent one by one
  for (const std::string& k : std::vector<std::string>(user.channels)) leave_locally(user, k);
  if (user.registered) {
    by_key_.erase(user.key);
    end_remotely(user.key, owner(conn), user.nick, reason, info_.resume_grace_ms > 0, now_ms);
  }
  for (const PendingSay& p : user.says)
    if (p.stored && !p.answered)
      if (auto ch = channels_.find(p.key); ch != channels_.end()) --ch->second.says_waiting;
  std::vector<std::function<void()>> afters;  // what waited on answers nobody will read (admissions)
  for (auto& [ticket, early] : user.early)
    if (early.after) afters.push_back(std::move(early.after));
  users_.erase(it);
  for (auto& after : afters) after();
  return {};
}

// The session of a connection that is gone: held for a resume, or ended
// (its quit). When Redis cannot be told now it is told once it is back.
void ClusterBackend::end_remotely(const std::string& key, const std::string& owner_text, const std::string& nick,
                                  std::string_view reason, bool hold, std::int64_t now) {
  Orphan end{key, owner_text, *encode_event(UserQuit{nick, std::string(reason)}),
             hold ? std::to_string(now + info_.resume_grace_ms) : std::string()};
  if (!end_in_redis(end)) remember(std::move(end));
}

// A session's end Redis was not told of, or got no reply for (a timeout,
// the connection cut), to send again: both functions check the owner, so
// one that did run is refused the second time, harmlessly. A hold keeps
// the grace it was given when the connection closed, however late Redis
// hears of it.
void ClusterBackend::remember(Orphan end) {
  if (orphans_.size() < max_orphans) orphans_.push_back(std::move(end));
}

bool ClusterBackend::end_in_redis(const Orphan& end) {
  auto again = [this, end](const RedisReply& reply) {
    if (reply.type == RedisReply::Type::failure) remember(end);
  };
  if (end.until.empty()) return call("parley_quit", {config_.prefix, end.key, end.owner, end.line}, again);
  const std::string max = std::to_string(info_.max_held_sessions);
  return call("parley_hold", {config_.prefix, end.key, end.owner, end.until, end.line, max}, again);
}

// Those that could not be sent (the connection down, or every place in
// flight taken): on every lease tick and when the backplane is back.
void ClusterBackend::retry_orphans() {
  std::vector<Orphan> orphans;
  orphans.swap(orphans_);
  for (Orphan& o : orphans)
    if (!end_in_redis(o)) remember(std::move(o));
}

Outcome ClusterBackend::expire(std::int64_t now_ms) {
  if (expire_in_flight_ || !backplane_.can_call()) return {};
  const EventTemplate lost = event_template(UserQuit{"", "server lost"});
  expire_in_flight_ = call("parley_expire",
                           {config_.prefix, std::to_string(now_ms), std::to_string(config_.expire_batch),
                            std::to_string(info_.resume_grace_ms), lost.head, lost.middle},
                           [this](const RedisReply& reply) {
                             expire_in_flight_ = false;
                             if (reply.ok()) held_ = unsigned_of(reply.at(3));
                             if (const std::uint64_t nodes = unsigned_of(reply.at(2)))
                               log::warn("backplane: " + std::to_string(nodes) +
                                         " server(s) lost their lease; their sessions are held");
                           });
  return {};
}

// The renewal goes first: what is retried after it may fill every place
// in flight (--cluster-max-in-flight), and the lease must not wait for it.
void ClusterBackend::on_lease_timer(uv_timer_s* timer) {
  auto& self = *static_cast<ClusterBackend*>(timer->data);
  self.renew_lease();
  if (self.backplane_.can_call()) {
    self.retry_orphans();
    self.retry_resubscribes();
    self.retry_repairs();
  }
  self.answer_stale_says();
}

void ClusterBackend::renew_lease() {
  const std::int64_t now = static_cast<std::int64_t>(uv_now(lease_timer_->loop));
  // Stop speaking for our sessions before the others may find the lease
  // gone: the last renewal Redis took was asked at lease_renewed_ or later,
  // so its key lives until lease_renewed_ + lease at the earliest; this runs
  // every sixth of the lease, so it turns stale by 5/6 of it at the latest.
  if (!lease_first_ && now - lease_renewed_ >= config_.node_lease_ms * 2 / 3) lease_stale_ = true;
  if (lease_in_flight_ || !backplane_.can_call()) return;
  lease_in_flight_ = call("parley_lease",
                          {config_.prefix, node_, std::to_string(config_.node_lease_ms), lease_first_ ? "1" : "0"},
                          [this, asked = now](const RedisReply& reply) {
                            lease_in_flight_ = false;
                            if (!reply.ok()) return;
                            lease_first_ = false;
                            lease_renewed_ = asked;
                            lease_stale_ = false;
                            if (reply.at(1).str == "lost") {
                              ++stats_.lease_lost;
                              log::warn("backplane: this server's lease had run out and it was declared lost; "
                                        "taking back its sessions");
                              reclaim_sessions();
                            }
                          });
}

void ClusterBackend::reclaim_sessions() {
  for (auto& [conn, user] : users_) {
    if (!user.registered) continue;
    call("parley_reclaim", {config_.prefix, user.key, node_, owner(conn), user.session},
         [this, conn = conn](const RedisReply& reply) {
           auto it = users_.find(conn);
           if (it == users_.end() || !reply.ok() || reply.at(0).str == "ok") return;
           forget(it->second);
           hub_->evict(conn, "the cluster lost this session", config_.retry_ms);
         });
  }
}

}  // namespace parley::cluster
