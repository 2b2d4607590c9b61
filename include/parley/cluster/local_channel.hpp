// A channel as one server of a cluster sees it: its own connections in it
// (the members elsewhere are Redis's to know), its subscription, and its
// feed of messages. Joiners whose join read head H receive messages above H
// only: until the feed has delivered H they wait in `pending`, and still get
// the channel's other events.
#pragma once

#include <cstdint>
#include <functional>
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
  // `ok`s of says waiting for the feed to deliver their seq (in seq order).
  struct HeldAck {
    std::uint64_t seq;
    ConnId conn;
    std::uint64_t ticket;
    Outcome outcome;
    std::int64_t since_ms;
  };
  std::vector<HeldAck> acks;

  ChannelFeed& feed() { return feed_; }

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

 private:
  std::string key_;
  std::string pubsub_;
  ChannelFeed feed_;
  std::vector<ConnId> receiving_;
  std::vector<std::pair<ConnId, std::uint64_t>> pending_;  // conn, head
  ConnList receiving_list_;  // shared by consecutive messages until a change
  ConnList everyone_list_;
};

}  // namespace parley::cluster
