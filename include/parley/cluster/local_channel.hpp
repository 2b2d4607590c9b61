// A channel as one server of a cluster sees it: its own connections in it
// (the members elsewhere are Redis's to know), its subscription, and its
// feed of messages. Joiners whose join read head H receive messages above H
// only: until the feed has delivered H they wait in `pending`, and still get
// the channel's other events.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "parley/chat/outcome.hpp"
#include "parley/cluster/channel_feed.hpp"

namespace parley::cluster {

class LocalChannel {
 public:
  LocalChannel(std::string key, std::string topic_channel, std::size_t max_held)
      : key_(std::move(key)), pubsub_(std::move(topic_channel)), feed_(max_held) {}

  const std::string& key() const { return key_; }
  const std::string& pubsub() const { return pubsub_; }
  std::string name;   // as first created (from the join's answer)
  std::string epoch;  // the sequence's life the feed follows

  enum class Subscription { none, subscribing, subscribed };
  Subscription subscription = Subscription::none;
  std::size_t joining = 0;  // joins and resumes under way: keep the subscription
  std::vector<std::function<void(bool ok)>> waiting;  // for the subscription's confirmation
  std::size_t says_waiting = 0;  // local says answered by Redis, their message not yet back: keep it
  // Calls into the feed under way (FeedSink's lifetime): what the feed hands
  // out may answer requests that empty the channel (a say's own message
  // completes the part and join pipelined behind it), and the feed must
  // outlive its own call. maybe_unsubscribe waits; the caller checks after.
  unsigned feeding = 0;

  ChannelFeed& feed() { return feed_; }
  // A new life of the channel's sequence (Redis dropped the channel, its
  // last member gone everywhere, and a join created it again from seq 0):
  // the feed starts over, unanchored, following `new_epoch`. Only while
  // nobody here is a member and no call into the feed is under way.
  void restart(std::string new_epoch) {
    feed_ = ChannelFeed(feed_.max_held());
    epoch = std::move(new_epoch);
    forget_recent();
  }

  // A member from `head` on (it receives messages above it).
  void add(ConnId conn, std::uint64_t head);
  void remove(ConnId conn);
  bool empty() const { return receiving_.empty() && pending_.empty(); }
  bool has(ConnId conn) const;
  std::size_t size() const { return receiving_.size() + pending_.size(); }

  // Who gets message `seq` (joiners waiting for it move in first).
  const ConnList& for_message(std::uint64_t seq);
  // Who gets any other event: every member.
  const ConnList& everyone();

  // The messages delivered while a join is under way (joining > 0), so a
  // joiner whose join read a head below what was delivered meanwhile gets
  // what lies between (its join ran before them in Redis: they are owed to
  // it). A ring of recent_capacity lines, kept only while joins are under
  // way: no cost per message otherwise.
  static constexpr std::size_t recent_capacity = 256;
  // `sender`: the local connection that said it (0 for another server's), which
  // a catch-up must skip (who acts gets the reply, not the event).
  void remember(std::uint64_t seq, std::string_view line, ConnId sender);
  void forget_recent() {
    recent_count_ = 0;
    recent_ = {};
    recent_senders_ = {};
  }
  struct Recent {
    std::string_view line;
    ConnId sender;
  };
  // Message `seq`, if still remembered.
  std::optional<Recent> recent(std::uint64_t seq) const;

 private:
  std::string key_;
  std::string pubsub_;
  ChannelFeed feed_;
  std::vector<ConnId> receiving_;
  std::vector<std::pair<ConnId, std::uint64_t>> pending_;  // conn, head
  ConnList receiving_list_;  // shared by consecutive messages until a change
  ConnList everyone_list_;
  std::vector<std::string> recent_;
  std::vector<ConnId> recent_senders_;
  std::uint64_t recent_last_ = 0;   // seq of the newest remembered line
  std::size_t recent_count_ = 0;    // lines remembered, up to recent_capacity
};

}  // namespace parley::cluster
