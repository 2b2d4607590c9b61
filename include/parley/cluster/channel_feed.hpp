// One channel's messages as this server receives them from the backplane,
// put back into `seq` order with nothing missing (protocol.md, Clusters).
//
// Pub/sub may lose messages (a dropped Redis connection, Redis's output
// limit) and a subscription starts at no particular seq, so the feed:
//  - waits for its anchor (the seq a join or resume read under the
//    subscription) and drops what is at or below it;
//  - delivers a message whose seq follows the last delivered one at once;
//  - on a hole, asks for a repair (the range, read from the channel's
//    history), holding later messages meanwhile, and delivers the repaired
//    range and then what it held; what the history no longer has becomes a
//    `gap` for the members.
// What it holds is bounded (max_held messages): past that it gives up on
// the hole (a gap) rather than grow.
//
// Pure: no Redis, no loop. The backend owns one per subscribed channel and
// implements the Sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::cluster {

class ChannelFeed {
 public:
  // delivered() already counts what deliver() or gap() is being told of.
  struct Sink {
    virtual ~Sink() = default;
    // `line` is the message event; `owner` who sent it (skipped).
    virtual void deliver(std::uint64_t seq, std::string_view owner, std::string_view line) = 0;
    virtual void gap(std::uint64_t from, std::uint64_t to) = 0;
    // Read messages from..to of the history and call repaired().
    virtual void repair(std::uint64_t from, std::uint64_t to) = 0;
  };

  struct Repaired {
    std::uint64_t seq;
    std::string owner;
    std::string line;
  };

  explicit ChannelFeed(std::size_t max_held = 10000) : max_held_(max_held) {}

  std::size_t max_held() const { return max_held_; }
  bool anchored() const { return anchored_; }
  std::uint64_t delivered() const { return delivered_; }
  bool repairing() const { return repairing_.has_value(); }
  std::size_t held() const { return held_.size(); }

  // The first head read under the subscription; later calls only move it
  // forward when nothing was delivered past it (a re-anchor after a
  // resubscribe goes through on_head instead).
  void anchor(std::uint64_t head, Sink& sink);
  // A head read later (after a resubscribe): what lies between the last
  // delivered seq and it is repaired.
  void on_head(std::uint64_t head, Sink& sink);
  void on_message(std::uint64_t seq, std::string_view owner, std::string_view line, Sink& sink);
  // The answer to repair(from, to): the messages the history still had, in
  // seq order (any of from..to may be missing). nullopt: the read failed;
  // the hole becomes a gap.
  void repaired(std::uint64_t from, std::uint64_t to, const std::optional<std::vector<Repaired>>& messages, Sink& sink);

 private:
  struct Held {
    std::string owner;
    std::string line;
  };
  // False when holding it was one too many and the feed gave up (gave
  // everything out, holes as gaps).
  bool hold(std::uint64_t seq, std::string_view owner, std::string_view line, Sink& sink);
  void release_held(Sink& sink);
  void give_up(Sink& sink);

  std::size_t max_held_;
  bool anchored_ = false;
  std::uint64_t delivered_ = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> repairing_;
  std::map<std::uint64_t, Held> held_;  // waiting for the anchor or a repair
};

}  // namespace parley::cluster
