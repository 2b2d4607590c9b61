#include "parley/cluster/cluster_backend.hpp"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "parley/chat/names.hpp"
#include "parley/chat/session_token.hpp"
#include "parley/cluster/bus_message.hpp"
#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"
#include "parley/protocol/encode.hpp"

namespace parley::cluster {
namespace {

// Seq numbers go through Lua's doubles: larger ones are clamped to where
// they are still exact (no channel gets near).
constexpr std::uint64_t max_exact_seq = 1ull << 53;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string random_suffix() {
  std::random_device random;
  char text[16];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(random()));
  return text;
}

Outcome failure(ErrorCode code, std::string message) {
  Outcome out;
  out.reply = ErrorReply{code, std::move(message), std::nullopt};
  return out;
}

// The nick of a member entry ("OWNER NICK").
std::string_view member_nick(std::string_view entry) {
  const std::size_t space = entry.find(' ');
  return space == std::string_view::npos ? entry : entry.substr(space + 1);
}

std::vector<std::string> sorted_nicks(const RedisReply& entries) {
  std::vector<std::string> nicks;
  nicks.reserve(entries.elements.size());
  for (const RedisReply& e : entries.elements) nicks.emplace_back(member_nick(e.str));
  std::sort(nicks.begin(), nicks.end(), [](const std::string& a, const std::string& b) { return fold(a) < fold(b); });
  return nicks;
}

std::optional<std::string> optional_text(const RedisReply& r) {
  if (r.is_nil()) return std::nullopt;
  return r.str;
}

std::uint64_t unsigned_of(const RedisReply& r) {
  const std::optional<std::int64_t> v = r.as_integer();
  return v && *v > 0 ? static_cast<std::uint64_t>(*v) : 0;
}

// The seq of a history stream entry's id ("SEQ-0").
std::uint64_t entry_seq(const RedisReply& entry) {
  const std::string& id = entry.at(0).str;
  std::uint64_t seq = 0;
  for (char c : id) {
    if (c < '0' || c > '9') break;
    seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return seq;
}

// A history entry's field, by name.
const std::string& entry_field(const RedisReply& entry, std::string_view name) {
  static const std::string none;
  const RedisReply& fields = entry.at(1);
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
    if (fields.elements[i].str == name) return fields.elements[i + 1].str;
  return none;
}

LoggedMessage logged(const RedisReply& entry) {
  return {entry_seq(entry), std::strtoll(entry_field(entry, "ts").c_str(), nullptr, 10), entry_field(entry, "f"),
          entry_field(entry, "t")};
}

}  // namespace

// The feed's side effects for one channel, on this backend.
class ClusterBackend::FeedSink final : public ChannelFeed::Sink {
 public:
  FeedSink(ClusterBackend& backend, LocalChannel& channel) : backend_(backend), channel_(channel) {}
  void deliver(std::uint64_t seq, std::string_view owner, std::string_view line) override {
    const ConnId sender = local_conn(owner, backend_.node_);
    backend_.hub_->deliver_line({channel_.for_message(seq), sender}, line);
    if (channel_.joining > 0) channel_.remember(seq, line, sender);
    if (sender) backend_.say_delivered(channel_, seq, sender, owner_tag(owner));
  }
  void gap(std::uint64_t from, std::uint64_t to) override {
    backend_.send_gap(channel_, from, to);
    channel_.forget_recent();
    if (channel_.says_waiting > 0) backend_.says_lost(channel_, from, to);
  }
  void repair(std::uint64_t from, std::uint64_t to) override { backend_.repair(channel_.key(), from, to); }

 private:
  ClusterBackend& backend_;
  LocalChannel& channel_;
};

namespace {

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

void ClusterBackend::start() {
  log::info("backplane: node " + node_ + " on " + config_.redis.address.to_string() + ", prefix " + config_.prefix);
  backplane_.start();
  const auto every = static_cast<std::uint64_t>(std::max<std::int64_t>(config_.node_lease_ms / 3, 50));
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

// ---- requests --------------------------------------------------------------------

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
  if (auto* q = std::get_if<Quit>(&command); q && (!user.registered || !backplane_.can_call())) {
    Outcome out;
    out.close = true;
    return out;  // unregistered, or nothing to tell Redis now: disconnect() remembers it
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
          if (!quit(user, c)) {  // quit always works: Redis hears of it once it can
            Outcome out;
            out.close = true;
            return out;
          }
          sent = true;
        }
        if (sent) return std::nullopt;
        return unavailable();
      },
      command);
  if (result) user.tickets = tickets_before;  // nothing deferred: no place taken
  return result;
}

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
  const bool sent = call("parley_hello", {config_.prefix, key, c.nick, token, node_, own, resume},
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
    if (it == users_.end()) {  // closed meanwhile (and held again): nobody to add
      for (const ResumedChannel& rc : pending->channels) {
        const std::string key = fold(rc.channel);
        --channel(key).joining;
        maybe_unsubscribe(key);
      }
      return;
    }
    User& u = it->second;
    for (ResumedChannel& rc : pending->channels) {
      const std::string key = fold(rc.channel);
      LocalChannel& ch = channel(key);
      --ch.joining;
      if (ch.name.empty()) ch.name = rc.channel;
      if (ch.epoch.empty()) ch.epoch = rc.epoch;
      // The hello's reply and the messages published after it come over two
      // connections, so the feed may have delivered past the head the hello
      // read. Those messages are in the history: the reply names the head
      // the feed is at, the client catches up to it, and it receives what
      // comes after it live (rather than never receiving what lay between).
      if (ch.feed().anchored() && ch.epoch == rc.epoch && ch.feed().delivered() > rc.seq)
        rc.seq = ch.feed().delivered();
      ch.add(conn, rc.seq);
      FeedSink sink(*this, ch);
      if (!ch.feed().anchored()) ch.feed().anchor(rc.seq, sink);
      if (std::find(u.channels.begin(), u.channels.end(), key) == u.channels.end()) u.channels.push_back(key);
    }
    Outcome out;
    out.reply = Welcome{u.nick, info_.name, info_.version, 1, info_.node, info_.features, limits_.max_line,
                        limits_.max_text, limits_.max_channels, u.session, true, pending->channels};
    out.replaced = pending->replaced;
    complete_blocking(conn, ticket, std::move(out));
  };
  pending->left = pending->channels.size() + 1;
  auto one_done = [pending, finish](bool) {
    if (--pending->left == 0) finish();
  };
  for (const ResumedChannel& rc : pending->channels) {
    LocalChannel& ch = channel(fold(rc.channel));
    ++ch.joining;
    if (!subscribe(ch, one_done)) one_done(false);  // its members may miss events until a repair
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

bool ClusterBackend::join(User& user, const Join& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.channel);
  LocalChannel& ch = channel(key);
  ++ch.joining;
  auto send_join = [this, conn, ticket, key, name = c.channel]() -> bool {
    auto it = users_.find(conn);
    if (it == users_.end()) return false;
    const EventTemplate t = event_template(Joined{"", it->second.nick});
    const std::string epoch = info_.epoch_prefix + "-" + node_ + "-" + std::to_string(++epoch_counter_);
    const std::string max = std::to_string(limits_.max_channels);
    return call("parley_join", {config_.prefix, key, name, it->second.key, owner(conn), max, epoch, t.head, t.middle},
                [this, conn, ticket, key, unblock = it->second.blocking](const RedisReply& reply) {
                  joined(conn, ticket, key, reply, unblock);
                });
  };
  if (ch.subscription == LocalChannel::Subscription::subscribed) {
    if (send_join()) return true;
    --ch.joining;
    maybe_unsubscribe(key);
    return false;
  }
  // Until its function is sent nothing after it may be: it would run first.
  user.blocking = true;
  const bool sent = subscribe(ch, [this, conn, ticket, key, send_join](bool ok) {
    if (ok && send_join()) return;  // joined() unblocks
    if (auto it = channels_.find(key); it != channels_.end()) --it->second.joining;
    maybe_unsubscribe(key);
    complete_blocking(conn, ticket, unavailable());
  });
  if (!sent) {
    user.blocking = false;
    --ch.joining;
    maybe_unsubscribe(key);
  }
  return sent;
}

// `unblock`: this join waited for its subscription and blocked the pipeline.
void ClusterBackend::joined(ConnId conn, std::uint64_t ticket, const std::string& key, const RedisReply& reply,
                            bool unblock) {
  auto respond = [this, conn, ticket, unblock](Outcome out, std::function<void()> after = {}) {
    if (unblock)
      complete_blocking(conn, ticket, std::move(out), std::move(after));
    else
      complete(conn, ticket, std::move(out), std::move(after));
  };
  auto cit = channels_.find(key);
  if (cit == channels_.end()) return;  // cannot be: joining kept it
  LocalChannel& ch = cit->second;
  --ch.joining;
  auto it = users_.find(conn);
  const std::string& status = reply.at(0).str;
  if (it == users_.end() || !reply.ok() || status != "ok") {
    maybe_unsubscribe(key);
    if (it == users_.end()) return;
    if (!reply.ok()) return respond(unavailable());
    if (status == "too_many_channels")
      return respond(failure(ErrorCode::too_many_channels,
                             "already in " + std::to_string(limits_.max_channels) + " channels"));
    return respond(gone(it->second));
  }
  JoinReply r{reply.at(1).str, optional_text(reply.at(2)), sorted_nicks(reply.at(5)), unsigned_of(reply.at(3)),
              reply.at(4).str};
  ch.name = r.channel;
  if (!ch.feed().anchored()) ch.epoch = r.epoch;
  const std::uint64_t head = r.seq;
  ++ch.joining;  // until admitted: what the feed delivers meanwhile is remembered for it
  FeedSink sink(*this, ch);
  if (!ch.feed().anchored()) ch.feed().anchor(head, sink);
  User& u = it->second;
  if (std::find(u.channels.begin(), u.channels.end(), key) == u.channels.end()) u.channels.push_back(key);
  Outcome out;
  out.reply = std::move(r);
  respond(std::move(out), [this, conn, key, head] { admit_member(conn, key, head); });
}

// The joiner becomes a member here right after its join reply went out.
// Its join ran in Redis before every message above `head`; those this
// server delivered while the join was on its way (they come ahead of the
// reply on the connection, and the feed may hold either) are owed to it:
// sent from the channel's recent lines, or, past what those hold, named
// in a gap.
void ClusterBackend::admit_member(ConnId conn, const std::string& key, std::uint64_t head) {
  auto cit = channels_.find(key);
  if (cit == channels_.end()) return;
  LocalChannel& ch = cit->second;
  --ch.joining;
  auto uit = users_.find(conn);
  const bool member = uit != users_.end() && uit->second.registered &&
                      std::find(uit->second.channels.begin(), uit->second.channels.end(), key) != uit->second.channels.end();
  if (member && !ch.has(conn)) {
    const std::uint64_t delivered = ch.feed().anchored() ? ch.feed().delivered() : head;
    if (delivered > head) catch_up(ch, conn, head + 1, delivered);
    ch.add(conn, std::max(head, delivered));
  }
  if (ch.joining == 0) ch.forget_recent();
  maybe_unsubscribe(key);
}

void ClusterBackend::catch_up(LocalChannel& ch, ConnId conn, std::uint64_t from, std::uint64_t to) {
  const Recipients one{std::make_shared<const std::vector<ConnId>>(1, conn), 0};
  std::uint64_t missing = 0;  // the first seq of a run the ring does not hold
  if (to - from >= LocalChannel::recent_capacity) {
    missing = from;
    from = to - LocalChannel::recent_capacity + 1;
  }
  for (std::uint64_t seq = from; seq <= to; ++seq) {
    const std::optional<LocalChannel::Recent> message = ch.recent(seq);
    if (!message) {
      if (!missing) missing = seq;
      continue;
    }
    if (missing) hub_->deliver_line(one, *encode_gap(ch.name, missing, seq - 1));
    missing = 0;
    if (message->sender != conn) hub_->deliver_line(one, message->line);  // its own say: it gets the ok
  }
  if (missing) hub_->deliver_line(one, *encode_gap(ch.name, missing, to));
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
  Outcome out = failure(ErrorCode::unavailable, "this session is no longer this server's");
  out.fatal = Error{ErrorCode::shutting_down, "the cluster lost this session; reconnect"};
  return out;
}

bool ClusterBackend::part(User& user, const Part& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.channel);
  const EventTemplate t = event_template(Parted{"", user.nick, c.reason});
  return call("parley_part", {config_.prefix, key, user.key, owner(conn), t.head, t.middle},
              [this, conn, ticket, key, typed = c.channel](const RedisReply& reply) {
                User* user = succeeded(conn, ticket, typed, reply);
                if (!user) return;
                leave_locally(*user, key);
                Outcome out;
                out.reply = PartReply{reply.at(1).str};
                complete(conn, ticket, std::move(out));
              });
}

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
// here, right there in the channel's order: the reply comes over one
// connection and the messages over another, and a client must see its ok
// for seq S after every message below S and before any above it. Whichever
// of the two (the function's reply, the message) comes second answers it.

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

bool ClusterBackend::topic(User& user, const TopicCmd& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.channel);
  std::optional<std::string> set;
  if (c.topic && !c.topic->empty()) set = c.topic;
  const EventTemplate t = event_template(TopicSet{c.channel, user.nick, set});
  return call("parley_topic",
              {config_.prefix, key, user.key, owner(conn), c.topic ? "1" : "", set ? *set : std::string(), t.head,
               t.middle},
              [this, conn, ticket, typed = c.channel](const RedisReply& reply) {
                User* user = succeeded(conn, ticket, typed, reply);
                if (!user) return;
                Outcome out;
                out.reply = TopicReply{reply.at(1).str, optional_text(reply.at(2))};
                complete(conn, ticket, std::move(out));
              });
}

bool ClusterBackend::list(User& user) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  return call("parley_list", {config_.prefix}, [this, conn, ticket](const RedisReply& reply) {
    if (!users_.count(conn)) return;
    if (!reply.ok()) return complete(conn, ticket, unavailable());
    ListReply r;
    for (std::size_t i = 1; i + 2 < reply.elements.size(); i += 3) {
      r.channels.push_back({reply.at(i).str, unsigned_of(reply.at(i + 1)), optional_text(reply.at(i + 2))});
    }
    std::sort(r.channels.begin(), r.channels.end(),
              [](const ChannelSummary& a, const ChannelSummary& b) { return fold(a.channel) < fold(b.channel); });
    Outcome out;
    out.reply = std::move(r);
    complete(conn, ticket, std::move(out));
  });
}

bool ClusterBackend::members(User& user, const Members& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string key = fold(c.channel);
  return call("parley_members", {config_.prefix, key}, [this, conn, ticket, typed = c.channel](const RedisReply& reply) {
    User* user = succeeded(conn, ticket, typed, reply);
    if (!user) return;
    Outcome out;
    out.reply = MembersReply{reply.at(1).str, sorted_nicks(reply.at(2))};
    complete(conn, ticket, std::move(out));
  });
}

bool ClusterBackend::history(User& user, const History& c) {
  const ConnId conn = user.conn;
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  const std::string before = c.before ? std::to_string(std::min(*c.before, max_exact_seq)) : std::string();
  const std::string after = c.after ? std::to_string(std::min(*c.after, max_exact_seq)) : std::string();
  return call("parley_history",
              {config_.prefix, fold(c.channel), user.key, before, after, std::to_string(c.limit),
               std::to_string(limits_.history)},
              [this, conn, ticket, c](const RedisReply& reply) {
                User* user = succeeded(conn, ticket, c.channel, reply);
                if (!user) return;
                HistoryReply r{reply.at(1).str, reply.at(2).str, {}, false};
                const std::uint64_t latest = unsigned_of(reply.at(3));
                const std::uint64_t oldest = unsigned_of(reply.at(4));
                for (const RedisReply& entry : reply.at(5).elements) r.messages.push_back(logged(entry));
                if (!c.after) std::reverse(r.messages.begin(), r.messages.end());
                if (c.after) {
                  const std::uint64_t end = c.before ? std::min(*c.before, latest + 1) : latest + 1;
                  const std::uint64_t wanted = *c.after >= max_exact_seq ? *c.after : *c.after + 1;
                  r.truncated = wanted < std::min(oldest, end);
                }
                Outcome out;
                out.reply = std::move(r);
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
  const bool sent = call("parley_quit", {config_.prefix, key, own, line}, [this, conn, ticket](const RedisReply&) {
    Outcome out;
    out.close = true;
    complete(conn, ticket, std::move(out));
  });
  if (!sent && orphans_.size() < max_orphans) orphans_.push_back({key, own, std::move(line)});
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
  std::string line = *encode_event(UserQuit{nick, std::string(reason)});
  bool sent;
  if (hold) {
    const std::string until = std::to_string(now + info_.resume_grace_ms);
    sent = call("parley_hold", {config_.prefix, key, owner_text, until, line}, [](const RedisReply&) {});
  } else {
    sent = call("parley_quit", {config_.prefix, key, owner_text, line}, [](const RedisReply&) {});
  }
  if (!sent && orphans_.size() < max_orphans) orphans_.push_back({key, owner_text, std::move(line)});
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

// ---- local channels -----------------------------------------------------------------

// The connection stays, its session is no longer this server's to speak for.
void ClusterBackend::forget(User& user) {
  for (const std::string& k : std::vector<std::string>(user.channels)) leave_locally(user, k);
  if (user.registered) by_key_.erase(user.key);
  user.registered = false;
}

LocalChannel& ClusterBackend::channel(const std::string& key) {
  auto it = channels_.find(key);
  if (it == channels_.end())
    it = channels_.try_emplace(key, key, channel_prefix_ + key + "}", config_.max_held).first;
  return it->second;
}

bool ClusterBackend::subscribe(LocalChannel& ch, std::function<void(bool ok)> then) {
  if (ch.subscription == LocalChannel::Subscription::subscribed) {
    then(true);
    return true;
  }
  if (ch.subscription == LocalChannel::Subscription::none) {
    const std::string key = ch.key();
    const bool sent = backplane_.subscribe(ch.pubsub(), [this, key](const RedisReply& reply) {
      auto it = channels_.find(key);
      if (it == channels_.end()) return;
      LocalChannel& c = it->second;
      c.subscription = reply.ok() ? LocalChannel::Subscription::subscribed : LocalChannel::Subscription::none;
      std::vector<std::function<void(bool)>> waiting;
      waiting.swap(c.waiting);
      for (auto& w : waiting) w(reply.ok());
      maybe_unsubscribe(key);
    });
    if (!sent) return false;
    ch.subscription = LocalChannel::Subscription::subscribing;
  }
  ch.waiting.push_back(std::move(then));
  return true;
}

void ClusterBackend::leave_locally(User& user, const std::string& key) {
  std::erase(user.channels, key);
  if (auto it = channels_.find(key); it != channels_.end()) it->second.remove(user.conn);
  maybe_unsubscribe(key);
}

void ClusterBackend::maybe_unsubscribe(const std::string& key) {
  auto it = channels_.find(key);
  if (it == channels_.end() || !it->second.empty() || it->second.joining > 0 || !it->second.waiting.empty() ||
      it->second.says_waiting > 0)
    return;
  if (it->second.subscription != LocalChannel::Subscription::none) backplane_.unsubscribe(it->second.pubsub());
  channels_.erase(it);
}

// ---- the backplane's side -------------------------------------------------------------

void ClusterBackend::on_message(std::string_view channel, std::string_view payload) {
  if (channel == users_channel_) return on_users_message(payload);
  if (channel == node_channel_) return on_node_message(payload);
  if (channel.size() > channel_prefix_.size() + 1 && channel.substr(0, channel_prefix_.size()) == channel_prefix_ &&
      channel.back() == '}') {
    const std::string key(channel.substr(channel_prefix_.size(), channel.size() - channel_prefix_.size() - 1));
    if (auto it = channels_.find(key); it != channels_.end()) on_channel_message(it->second, payload);
  }
}

void ClusterBackend::on_channel_message(LocalChannel& ch, std::string_view payload) {
  const BusMessage m = parse_bus_message(payload);
  if (m.kind == BusMessage::Kind::message) {
    FeedSink sink(*this, ch);
    ch.feed().on_message(m.seq, m.owner, m.line, sink);
    if (ch.empty()) maybe_unsubscribe(std::string(ch.key()));  // the last says of members who left came back
  } else if (m.kind == BusMessage::Kind::event) {
    if (!ch.empty()) hub_->deliver_line({ch.everyone(), local_conn(m.owner, node_)}, m.line);
  } else {
    log::write(LogLevel::warn, 0, "", "backplane: ignored a malformed message on " + ch.pubsub());
  }
}

// A nick change or a quit: once to each local member sharing one of the
// channels it names.
void ClusterBackend::on_users_message(std::string_view payload) {
  const BusMessage m = parse_bus_message(payload);
  if (m.kind != BusMessage::Kind::users) return;
  auto to = std::make_shared<std::vector<ConnId>>();
  std::string_view keys = m.keys;
  while (!keys.empty()) {
    const std::size_t comma = keys.find(',');
    const std::string key(keys.substr(0, comma));
    keys = comma == std::string_view::npos ? std::string_view() : keys.substr(comma + 1);
    if (auto it = channels_.find(key); it != channels_.end()) {
      const ConnList& all = it->second.everyone();
      to->insert(to->end(), all->begin(), all->end());
    }
  }
  if (to->empty()) return;
  std::sort(to->begin(), to->end());
  to->erase(std::unique(to->begin(), to->end()), to->end());
  hub_->deliver_line({std::move(to), local_conn(m.owner, node_)}, m.line);
}

void ClusterBackend::on_node_message(std::string_view payload) {
  const BusMessage m = parse_bus_message(payload);
  auto it = users_.find(m.conn);
  if (it == users_.end() || !it->second.registered) return;
  if (m.kind == BusMessage::Kind::direct) {
    hub_->deliver_line({std::make_shared<const std::vector<ConnId>>(1, m.conn), 0}, m.line);
  } else if (m.kind == BusMessage::Kind::replaced) {
    User& user = it->second;
    for (const std::string& k : std::vector<std::string>(user.channels)) leave_locally(user, k);
    by_key_.erase(user.key);
    user.registered = false;
    hub_->end_session(m.conn, ErrorCode::replaced, "another connection resumed this session");
  }
}

void ClusterBackend::on_ready() {
  log::info("backplane: up (" + config_.redis.address.to_string() + ")");
  lease_stale_ = false;
  renew_lease();  // before any request: the first lease call goes out ahead of every hello
  served_ = true;
  resubscribe_all();
  retry_repairs();
  std::vector<Orphan> orphans;
  orphans.swap(orphans_);
  for (const Orphan& o : orphans)
    if (!call("parley_quit", {config_.prefix, o.key, o.owner, o.line}, [](const RedisReply&) {}))
      orphans_.push_back(o);
}

void ClusterBackend::on_unready(std::string_view why) {
  log::warn("backplane: down (" + std::string(why) + "); answering unavailable until it is back");
}

// After a reconnect: subscribe again to every channel with local members,
// then read each one's head, so what was published while the subscriber
// was away is repaired from history.
void ClusterBackend::resubscribe_all() {
  for (auto& [key, ch] : channels_) {
    if (ch.subscription != LocalChannel::Subscription::subscribed) continue;
    // Its head is read once the subscription is confirmed: whatever was
    // published before that is at or below it, and gets repaired.
    // Not sent: the connection dropped again, and its next up does this again.
    backplane_.subscribe(ch.pubsub(), [this, key = key](const RedisReply& reply) {
      if (reply.ok()) read_heads({key});
    });
  }
}

void ClusterBackend::read_heads(const std::vector<std::string>& keys) {
  std::vector<std::string_view> args{config_.prefix};
  args.insert(args.end(), keys.begin(), keys.end());
  call("parley_heads", args, [this, keys](const RedisReply& reply) {
    if (!reply.ok()) return;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto it = channels_.find(keys[i]);
      if (it == channels_.end()) continue;
      FeedSink sink(*this, it->second);
      it->second.feed().on_head(unsigned_of(reply.at(2 + 3 * i)), sink);
    }
  });
}

void ClusterBackend::repair(const std::string& key, std::uint64_t from, std::uint64_t to) {
  ++stats_.gap_repairs;
  read_repair_page(key, from, to, from, std::make_shared<std::vector<ChannelFeed::Repaired>>());
}

// One page of a repair's range, `next`..to; the feed hears of the whole
// range at once, after its last page. Pages keep each reply small: Redis
// counts a reply against the connection's pub/sub output limit, which
// would cut the connection (and with it the repair) over one long hole.
void ClusterBackend::read_repair_page(const std::string& key, std::uint64_t from, std::uint64_t to,
                                      std::uint64_t next, std::shared_ptr<std::vector<ChannelFeed::Repaired>> found) {
  auto done = [this, key, from, to, found](const RedisReply& reply) {
    auto it = channels_.find(key);
    if (it == channels_.end()) return;
    LocalChannel& ch = it->second;
    const bool ok = reply.ok() && reply.at(0).str == "ok";
    if (ok) {
      const std::vector<RedisReply>& page = reply.at(3).elements;
      for (const RedisReply& entry : page) {
        const LoggedMessage m = logged(entry);
        found->push_back({m.seq, entry_field(entry, "o") + " " + entry_field(entry, "g"),
                          *encode_event(ChatMessage{ch.name, m.from, {}, m.text, m.seq, m.ts})});
      }
      if (page.size() == repair_page && !found->empty() && found->back().seq < to)
        return read_repair_page(key, from, to, found->back().seq + 1, found);
    }
    // A later page that failed keeps what the earlier ones read: the rest
    // of the range becomes the gap.
    FeedSink sink(*this, ch);
    ch.feed().repaired(from, to, ok || !found->empty() ? std::optional(std::move(*found)) : std::nullopt, sink);
    if (ch.empty()) maybe_unsubscribe(key);
  };
  // Not sent: tried again, whole, once the backplane is back (the feed
  // holds what comes meanwhile, within its bound).
  if (!call("parley_range",
            {config_.prefix, key, std::to_string(next), std::to_string(to), std::to_string(repair_page),
             std::to_string(limits_.history)},
            done))
    repairs_later_.push_back({key, from, to});
}

void ClusterBackend::retry_repairs() {
  std::vector<RepairLater> later;
  later.swap(repairs_later_);
  for (const RepairLater& r : later) {
    --stats_.gap_repairs;
    repair(r.key, r.from, r.to);
  }
}

void ClusterBackend::send_gap(LocalChannel& ch, std::uint64_t from, std::uint64_t to) {
  ++stats_.gaps_sent;
  log::warn("backplane: " + ch.name + " lost messages " + std::to_string(from) + ".." + std::to_string(to));
  if (!ch.empty()) hub_->deliver_line({ch.everyone(), 0}, *encode_gap(ch.name, from, to));
}

// ---- the lease -----------------------------------------------------------------------------

void ClusterBackend::on_lease_timer(uv_timer_s* timer) {
  auto& self = *static_cast<ClusterBackend*>(timer->data);
  if (self.backplane_.can_call()) self.retry_repairs();
  self.answer_stale_says();
  self.renew_lease();
}


void ClusterBackend::renew_lease() {
  const std::int64_t now = static_cast<std::int64_t>(uv_now(lease_timer_->loop));
  // Stop speaking for our sessions before the others may find the lease gone.
  if (!lease_first_ && now - lease_renewed_ > config_.node_lease_ms * 2 / 3) lease_stale_ = true;
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
