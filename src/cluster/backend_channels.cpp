#include "parley/cluster/cluster_backend.hpp"

#include <algorithm>

#include "parley/chat/names.hpp"
#include "parley/cluster/function_replies.hpp"
#include "parley/hub/hub.hpp"
#include "parley/protocol/encode.hpp"

// Channels: join (subscribe first, then the function, then deliver only
// what is above its head), part, topic, list, members, history, and the
// local channels (this server's members of each, its subscriptions).

namespace parley::cluster {
namespace {

// Seq numbers go through Lua's doubles: larger ones are clamped to where
// they are still exact (no channel gets near).
constexpr std::uint64_t max_exact_seq = 1ull << 53;

}  // namespace

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
  // The channel was dropped in Redis and created again (its last member
  // elsewhere parted, or this server's own last one, pipelined ahead of this
  // join): its seq starts over, and a feed still at the old life's seq would
  // drop the new one's messages as already delivered.
  if (ch.feed().anchored() && ch.epoch != r.epoch && ch.empty() && ch.feeding == 0)
    ch.restart(r.epoch);
  if (!ch.feed().anchored()) ch.epoch = r.epoch;
  const std::uint64_t head = r.seq;
  ++ch.joining;  // until admitted: what the feed delivers meanwhile is remembered for it
  if (!ch.feed().anchored()) {
    FeedSink sink(*this, ch);
    ch.feed().anchor(head, sink);
  }
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
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  return read_list_page(user.conn, ticket, std::make_shared<ListRead>(), "0", 0);
}

// One page of the walk over the channels (parley_list): at most
// page_entries(list_page) of them, so each reply stays within page_bytes
// however many channels and topics there are, and no call walks them all.
// The pages are no snapshot: a channel made or dropped during the walk may
// be in it or not; one the walk meets twice is listed once.
bool ClusterBackend::read_list_page(ConnId conn, std::uint64_t ticket, std::shared_ptr<ListRead> read,
                                    const std::string& cursor, std::uint64_t offset) {
  const std::size_t count = page_entries(list_page);
  return call("parley_list", {config_.prefix, cursor, std::to_string(offset), std::to_string(count)},
              [this, conn, ticket, read](const RedisReply& reply) {
                if (!users_.count(conn)) return;
                if (!reply.ok()) return complete(conn, ticket, unavailable());
                for (std::size_t i = 3; i + 2 < reply.elements.size(); i += 3)
                  if (read->seen.insert(fold(reply.at(i).str)).second)
                    read->reply.channels.push_back(
                        {reply.at(i).str, unsigned_of(reply.at(i + 1)), optional_text(reply.at(i + 2))});
                const std::string& next = reply.at(1).str;
                const std::uint64_t next_offset = unsigned_of(reply.at(2));
                if (next != "0" || next_offset != 0) {
                  if (!read_list_page(conn, ticket, read, next, next_offset)) complete(conn, ticket, unavailable());
                  return;
                }
                ListReply& r = read->reply;
                std::sort(r.channels.begin(), r.channels.end(), [](const ChannelSummary& a, const ChannelSummary& b) {
                  return fold(a.channel) < fold(b.channel);
                });
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
  const std::uint64_t ticket = user.tickets++;  // its place in the order of answers
  auto read = std::make_shared<HistoryRead>();
  read->request = c;
  return read_history_page(user.conn, ticket, read, c.before, c.after, c.limit);
}

// One page: with `after`, the oldest `most` above it (and below `before`);
// without, the newest `most` below `before`. A full page with more wanted
// reads on from its last entry; the first page's head and oldest seq, and
// its epoch, stand for the whole reply (a later page of another epoch, the
// channel created anew meanwhile, ends it).
bool ClusterBackend::read_history_page(ConnId conn, std::uint64_t ticket, std::shared_ptr<HistoryRead> read,
                                       std::optional<std::uint64_t> before, std::optional<std::uint64_t> after,
                                       std::size_t most) {
  auto it = users_.find(conn);
  if (it == users_.end()) return false;
  const std::size_t count = page_entries(most);
  return call("parley_history",
              {config_.prefix, fold(read->request.channel), it->second.key,
               before ? std::to_string(std::min(*before, max_exact_seq)) : std::string(),
               after ? std::to_string(std::min(*after, max_exact_seq)) : std::string(), std::to_string(count),
               std::to_string(limits_.history)},
              [this, conn, ticket, read, before, after, most, count](const RedisReply& reply) {
                if (!succeeded(conn, ticket, read->request.channel, reply)) return;
                HistoryRead& r = *read;
                if (!r.started) {
                  r.started = true;
                  r.reply = HistoryReply{reply.at(1).str, reply.at(2).str, {}, false};
                  r.latest = unsigned_of(reply.at(3));
                  r.oldest = unsigned_of(reply.at(4));
                } else if (reply.at(2).str != r.reply.epoch) {
                  return finish_history(conn, ticket, r);
                }
                const std::vector<RedisReply>& page = reply.at(5).elements;
                for (const RedisReply& entry : page) r.reply.messages.push_back(logged(entry));
                if (page.size() < count || count == most)
                  return finish_history(conn, ticket, r);
                const std::uint64_t last = r.reply.messages.back().seq;  // ascending with after, else descending
                const bool sent = after ? read_history_page(conn, ticket, read, before, last, most - count)
                                        : read_history_page(conn, ticket, read, last, std::nullopt, most - count);
                if (!sent) complete(conn, ticket, unavailable());
              });
}

void ClusterBackend::finish_history(ConnId conn, std::uint64_t ticket, HistoryRead& read) {
  const History& c = read.request;
  HistoryReply& r = read.reply;
  if (!c.after) std::reverse(r.messages.begin(), r.messages.end());
  if (c.after) {
    const std::uint64_t end = c.before ? std::min(*c.before, read.latest + 1) : read.latest + 1;
    const std::uint64_t wanted = *c.after >= max_exact_seq ? *c.after : *c.after + 1;
    r.truncated = wanted < std::min(read.oldest, end);
  }
  Outcome out;
  out.reply = std::move(r);
  complete(conn, ticket, std::move(out));
}

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
      it->second.says_waiting > 0 || it->second.feeding > 0)
    return;
  if (it->second.subscription != LocalChannel::Subscription::none) backplane_.unsubscribe(it->second.pubsub());
  channels_.erase(it);
}

}  // namespace parley::cluster
