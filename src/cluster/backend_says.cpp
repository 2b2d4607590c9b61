#include "parley/cluster/cluster_backend.hpp"

#include <uv.h>

#include <algorithm>

#include "parley/chat/names.hpp"
#include "parley/cluster/function_replies.hpp"
#include "parley/protocol/encode.hpp"

// Says: batched per channel and loop turn (SayBatches), sent as one
// parley_says call when the turn ends, and each answered `ok` once both
// its function's reply and its own message are back, in the channel's
// order.

namespace parley::cluster {

// A say waits in its channel's batch until the end of the turn (or until
// the batch is full, or the session sends something else); it is answered
// from its result in the call's reply (said), like every deferred request.
bool ClusterBackend::say(User& user, Say& c, std::int64_t now) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.channel);
  if (const std::string* other = says_.pending_of(conn); other && *other != key) send_says(*other);
  const EventTemplate t = event_template(ChatMessage{c.channel, user.nick, {}, c.text, 0, now});
  const std::string ts = std::to_string(now);
  const std::string tag = std::to_string(ticket);
  const std::string own = owner(conn);
  user.says.push_back({ticket, key, now, 0, false, false, 0});
  if (says_.add(key, {conn, ticket, c.channel}, {user.key, own, t.head, t.middle, t.tail, ts, user.nick, c.text, tag}))
    send_says(key);
  else
    arm_flush();
  return true;
}

// Sends one channel's waiting says as one parley_says call. May run inside
// a hub call (a full batch, a session's next request, a disconnect), where
// the hub must not be called: says whose call could not be sent (the
// backplane down, the in-flight bound) are answered at the end of the turn.
void ClusterBackend::send_says(std::string key) {
  SayBatches::Batch batch = says_.take(key);
  if (batch.says.empty()) return;
  const std::vector<std::string_view> args(batch.args.begin(), batch.args.end());
  auto says = std::make_shared<const std::vector<SayBatches::Say>>(std::move(batch.says));
  if (call("parley_says", args, [this, says](const RedisReply& reply) { says_answered(*says, reply); })) return;
  unsent_says_.insert(unsent_says_.end(), says->begin(), says->end());
  arm_flush();
}

void ClusterBackend::send_says_of(ConnId conn) {
  if (const std::string* key = says_.pending_of(conn)) send_says(*key);
}

void ClusterBackend::send_all_says() {
  for (std::string& key : says_.keys()) send_says(std::move(key));
}

// parley_says answers with one result per say, in their order. Anything
// else (no reply, an error, a malformed one) fails every say of the call,
// as a failed call of one say failed that say.
void ClusterBackend::says_answered(const std::vector<SayBatches::Say>& says, const RedisReply& reply) {
  if (reply.type == RedisReply::Type::array && reply.elements.size() == says.size()) {
    for (std::size_t i = 0; i < says.size(); ++i) said(says[i], reply.elements[i]);
    return;
  }
  const RedisReply failed = RedisReply::failed(reply.ok() ? "parley_says: malformed reply" : reply.str);
  for (const SayBatches::Say& say : says) said(say, failed);
}

void ClusterBackend::said(const SayBatches::Say& say, const RedisReply& result) {
  auto it = users_.find(say.conn);
  if (it == users_.end()) return;
  if (!result.ok() || result.at(0).str != "ok") {
    forget_say(it->second, say.ticket);
    if (!result.ok()) return complete(say.conn, say.ticket, unavailable());
    return complete(say.conn, say.ticket, channel_error(result, say.typed, it->second));
  }
  say_stored(it->second, say.ticket, unsigned_of(result.at(1)));
}

void ClusterBackend::arm_flush() {
  if (flush_armed_) return;
  flush_armed_ = true;
  (void)uv_check_start(flush_check_.get(), on_flush_check);  // an initialised handle: cannot fail
  (void)uv_idle_start(flush_idle_.get(), [](uv_idle_t*) {});
}

// The end of a loop turn (right after its poll): every waiting batch goes,
// then the says whose call could not be sent are answered.
void ClusterBackend::on_flush_check(uv_check_t* check) {
  auto& self = *static_cast<ClusterBackend*>(check->data);
  self.send_all_says();
  std::vector<SayBatches::Say> unsent;
  unsent.swap(self.unsent_says_);
  const RedisReply failed = RedisReply::failed("not sent");
  for (const SayBatches::Say& say : unsent) self.said(say, failed);
  if (!self.says_.empty() || !self.unsent_says_.empty()) return;  // queued meanwhile: the next turn's
  self.flush_armed_ = false;
  uv_check_stop(self.flush_check_.get());
  uv_idle_stop(self.flush_idle_.get());
}

// A say's `ok` goes out when its message is back from Redis and delivered
// here, right there in the channel's order: the message comes just before
// the function's reply on the one connection, but the feed may hold it (a
// repair under way), and a client must see its ok for seq S after every
// message below S and before any above it. Whichever of the two (the
// function's reply, the message delivered) comes second answers it.

void ClusterBackend::say_stored(User& user, std::uint64_t ticket, std::uint64_t seq) {
  auto say = std::find_if(user.says.begin(), user.says.end(), [ticket](const PendingSay& p) { return p.ticket == ticket; });
  if (say == user.says.end()) return;
  if (say->answered) {  // its message came first and answered it
    user.says.erase(say);
    return;
  }
  say->seq = seq;
  say->stored = true;
  say->stored_ms = static_cast<std::int64_t>(uv_now(lease_timer_->loop));
  auto ch = channels_.find(say->key);
  if (ch == channels_.end() || !ch->second.feed().anchored() || ch->second.feed().delivered() >= seq) {
    answer_say(user, say);  // nothing here will bring it (or it went by)
    return;
  }
  ++ch->second.says_waiting;
}

void ClusterBackend::say_delivered(LocalChannel& ch, std::uint64_t seq, ConnId sender, std::optional<std::uint64_t> tag) {
  auto it = users_.find(sender);
  if (it == users_.end() || !tag) return;
  User& user = it->second;
  auto say = std::find_if(user.says.begin(), user.says.end(), [&](const PendingSay& p) { return p.ticket == *tag; });
  if (say == user.says.end() || say->answered) return;
  say->seq = seq;
  if (say->stored) --ch.says_waiting;
  answer_say(user, say);
}

// What the feed gave up on (a gap) includes says of ours whose message will
// never come: answered now.
void ClusterBackend::says_lost(LocalChannel& ch, std::uint64_t from, std::uint64_t to) {
  const ConnList members = ch.everyone();
  for (ConnId conn : *members) {
    auto it = users_.find(conn);
    if (it == users_.end()) continue;
    for (std::size_t i = 0; i < it->second.says.size();) {
      PendingSay& p = it->second.says[i];
      if (p.stored && !p.answered && p.key == ch.key() && p.seq >= from && p.seq <= to) {
        --ch.says_waiting;
        answer_say(it->second, it->second.says.begin() + static_cast<std::ptrdiff_t>(i));
        continue;  // erased
      }
      ++i;
    }
  }
}

// Answers it (ChatAck), and forgets it once the function's reply came too.
void ClusterBackend::answer_say(User& user, std::vector<PendingSay>::iterator say) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = say->ticket;
  auto ch = channels_.find(say->key);
  Outcome out;
  out.reply = ChatAck{ch == channels_.end() ? say->key : ch->second.name, {}, say->seq, say->ts};
  if (say->stored)
    user.says.erase(say);
  else
    say->answered = true;
  complete(conn, ticket, std::move(out));  // may run the hub: `user` and `say` are not used after
}

void ClusterBackend::forget_say(User& user, std::uint64_t ticket) {
  std::erase_if(user.says, [ticket](const PendingSay& p) { return p.ticket == ticket; });
}

// Says whose message never came back (the subscriber is away and no repair
// could run): answered anyway after twice the command timeout, rather than
// keep a client waiting without bound.
void ClusterBackend::answer_stale_says() {
  const auto now = static_cast<std::int64_t>(uv_now(lease_timer_->loop));
  std::vector<std::pair<ConnId, std::uint64_t>> stale;
  for (auto& [conn, user] : users_)
    for (const PendingSay& p : user.says)
      if (p.stored && !p.answered && now - p.stored_ms >= 2 * config_.redis.command_timeout_ms)
        stale.emplace_back(conn, p.ticket);
  for (const auto& [conn, ticket] : stale) {
    auto it = users_.find(conn);
    if (it == users_.end()) continue;
    auto say = std::find_if(it->second.says.begin(), it->second.says.end(),
                            [t = ticket](const PendingSay& p) { return p.ticket == t; });
    if (say == it->second.says.end()) continue;
    if (auto ch = channels_.find(say->key); ch != channels_.end()) --ch->second.says_waiting;
    answer_say(it->second, say);
  }
}

}  // namespace parley::cluster
