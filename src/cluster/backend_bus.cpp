#include "parley/cluster/cluster_backend.hpp"

#include <algorithm>

#include "parley/cluster/bus_message.hpp"
#include "parley/cluster/function_replies.hpp"
#include "parley/hub/hub.hpp"
#include "parley/log/log.hpp"
#include "parley/protocol/encode.hpp"

// What Redis publishes, fanned out to this server's members through each
// channel's feed; the backplane coming and going (resubscribe, re-read the
// heads); gap repairs from the history.

namespace parley::cluster {

void ClusterBackend::FeedSink::deliver(std::uint64_t seq, std::string_view owner, std::string_view line) {
  const ConnId sender = local_conn(owner, backend_.node_);
  backend_.hub_->deliver_line({channel_.for_message(seq), sender}, line);
  if (channel_.joining > 0) channel_.remember(seq, line, sender);
  if (sender) backend_.say_delivered(channel_, seq, sender, owner_tag(owner));
}

void ClusterBackend::FeedSink::gap(std::uint64_t from, std::uint64_t to) {
  backend_.send_gap(channel_, from, to);
  channel_.forget_recent();
  if (channel_.says_waiting > 0) backend_.says_lost(channel_, from, to);
}

void ClusterBackend::FeedSink::repair(std::uint64_t from, std::uint64_t to) {
  backend_.repair(channel_.key(), from, to);
}

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
    {
      FeedSink sink(*this, ch);
      ch.feed().on_message(m.seq, m.owner, m.line, sink);
    }
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
  // lease_stale_ stays until a renewal is answered: after an outage longer
  // than the lease this server may have been declared lost, and requests
  // sent before the renewal's answer would speak for sessions it lost.
  renew_lease();  // before any request: the first lease call goes out ahead of every hello
  served_ = true;
  retry_orphans();  // sessions' ends first: nothing else may take their places in flight
  resubscribe_all();
  retry_repairs();
}

void ClusterBackend::on_unready(std::string_view why) {
  log::warn("backplane: down (" + std::string(why) + "); answering unavailable until it is back");
}

// After a reconnect: subscribe again to every channel with local members,
// then read each one's head, so what was published while the subscriber
// was away is repaired from history.
void ClusterBackend::resubscribe_all() {
  resubscribe_later_.clear();  // all of them, now
  for (auto& [key, ch] : channels_)
    if (ch.subscription == LocalChannel::Subscription::subscribed) resubscribe(key);
}

void ClusterBackend::retry_resubscribes() {
  std::vector<std::string> later;
  later.swap(resubscribe_later_);
  for (const std::string& key : later) resubscribe(key);
}

void ClusterBackend::resubscribe(const std::string& key) {
  auto it = channels_.find(key);
  if (it == channels_.end() || it->second.subscription != LocalChannel::Subscription::subscribed) return;
  // Its head is read once the subscription is confirmed: whatever was
  // published before that is at or below it, and gets repaired.
  const bool sent = backplane_.subscribe(it->second.pubsub(), [this, key](const RedisReply& reply) {
    if (reply.ok()) return read_heads({key});
    if (reply.type == RedisReply::Type::failure) return;  // the connection dropped: its next up does this again
    // Refused (an ACL that no longer allows the channel): its members
    // here would get nothing while the server looked ready. As for the
    // server's own channels: again from a new connection, after the
    // backoff, until Redis takes it.
    log::warn("backplane: resubscribing to " + key + " refused: " + reply.str);
    backplane_.reconnect("resubscribing to " + key + " refused: " + reply.str);
  });
  // Not sent with the connection down: its next up does all of them again.
  if (!sent && backplane_.can_call()) resubscribe_later_.push_back(key);
}

void ClusterBackend::read_heads(const std::vector<std::string>& keys) {
  std::vector<std::string_view> args{config_.prefix};
  args.insert(args.end(), keys.begin(), keys.end());
  call("parley_heads", args, [this, keys](const RedisReply& reply) {
    if (!reply.ok()) return;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto it = channels_.find(keys[i]);
      if (it == channels_.end()) continue;
      {
        FeedSink sink(*this, it->second);
        it->second.feed().on_head(unsigned_of(reply.at(2 + 3 * i)), sink);
      }
      if (it->second.empty()) maybe_unsubscribe(keys[i]);
    }
  });
}

void ClusterBackend::repair(const std::string& key, std::uint64_t from, std::uint64_t to, unsigned attempt) {
  ++stats_.gap_repairs;
  read_repair_page(key, from, to, from, attempt, std::make_shared<std::vector<ChannelFeed::Repaired>>());
}

// One page of a repair's range, `next`..to; the feed hears of the whole
// range at once, after its last page. Pages keep each reply small: Redis
// counts a reply against the connection's pub/sub output limit, which
// would cut the connection (and with it the repair) over one long hole.
void ClusterBackend::read_repair_page(const std::string& key, std::uint64_t from, std::uint64_t to,
                                      std::uint64_t next, unsigned attempt,
                                      std::shared_ptr<std::vector<ChannelFeed::Repaired>> found) {
  // Each retry reads half the page before: a page whose own reply was
  // over Redis's output limit would cut the connection every time.
  const std::size_t count = std::max<std::size_t>(page_entries(repair_page) >> attempt, 1);
  auto done = [this, key, from, to, attempt, found, count](const RedisReply& reply) {
    auto it = channels_.find(key);
    if (it == channels_.end()) return;
    LocalChannel& ch = it->second;
    if (reply.type == RedisReply::Type::failure && attempt + 1 < repair_attempts) {
      log::warn("backplane: reading " + ch.name + "'s history " + std::to_string(from) + ".." + std::to_string(to) +
                " got no reply (" + reply.str + "); trying again");
      repairs_later_.push_back({key, from, to, attempt + 1});  // whole: the feed takes the range at once
      return;
    }
    const bool ok = reply.ok() && reply.at(0).str == "ok";
    if (ok) {
      const std::vector<RedisReply>& page = reply.at(3).elements;
      for (const RedisReply& entry : page) {
        const LoggedMessage m = logged(entry);
        found->push_back({m.seq, entry_field(entry, "o") + " " + entry_field(entry, "g"),
                          *encode_event(ChatMessage{ch.name, m.from, {}, m.text, m.seq, m.ts})});
      }
      if (page.size() == count && !found->empty() && found->back().seq < to)
        return read_repair_page(key, from, to, found->back().seq + 1, attempt, found);
    }
    // A Redis error, or still no reply after the last attempt: what earlier
    // pages read is kept, the rest of the range becomes the gap.
    {
      FeedSink sink(*this, ch);
      ch.feed().repaired(from, to, ok || !found->empty() ? std::optional(std::move(*found)) : std::nullopt, sink);
    }
    if (ch.empty()) maybe_unsubscribe(key);
  };
  // Not sent: tried again, whole, once the backplane is back (the feed
  // holds what comes meanwhile, within its bound).
  if (!call("parley_range",
            {config_.prefix, key, std::to_string(next), std::to_string(to), std::to_string(count),
             std::to_string(limits_.history)},
            done))
    repairs_later_.push_back({key, from, to, attempt});
}

void ClusterBackend::retry_repairs() {
  std::vector<RepairLater> later;
  later.swap(repairs_later_);
  for (const RepairLater& r : later) {
    --stats_.gap_repairs;
    repair(r.key, r.from, r.to, r.attempt);
  }
}

void ClusterBackend::send_gap(LocalChannel& ch, std::uint64_t from, std::uint64_t to) {
  ++stats_.gaps_sent;
  log::warn("backplane: " + ch.name + " lost messages " + std::to_string(from) + ".." + std::to_string(to));
  if (!ch.empty()) hub_->deliver_line({ch.everyone(), 0}, *encode_gap(ch.name, from, to));
}

}  // namespace parley::cluster
