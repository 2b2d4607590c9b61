#include "parley/cluster/channel_feed.hpp"

namespace parley::cluster {

void ChannelFeed::anchor(std::uint64_t head, Sink& sink) {
  if (anchored_) return;
  anchored_ = true;
  delivered_ = head;
  release_held(sink);
}

void ChannelFeed::on_head(std::uint64_t head, Sink& sink) {
  if (!anchored_) return anchor(head, sink);
  if (head <= delivered_ || repairing_) return;
  repairing_.emplace(delivered_ + 1, head);
  sink.repair(delivered_ + 1, head);
}

void ChannelFeed::on_message(std::uint64_t seq, std::string_view owner, std::string_view line, Sink& sink) {
  if (anchored_ && seq <= delivered_) return;  // already delivered (or before our time)
  if (anchored_ && !repairing_ && seq == delivered_ + 1) {
    delivered_ = seq;
    sink.deliver(seq, owner, line);
    if (!held_.empty()) release_held(sink);
    return;
  }
  if (!hold(seq, owner, line, sink)) return;  // gave up on the hole: all delivered
  if (anchored_ && !repairing_) {
    repairing_.emplace(delivered_ + 1, seq - 1);
    sink.repair(delivered_ + 1, seq - 1);
  }
}

// Merges the history's messages with those that arrived meanwhile (both in
// seq order), so the work is the messages', not the range's length.
void ChannelFeed::repaired(std::uint64_t from, std::uint64_t to, const std::optional<std::vector<Repaired>>& messages,
                           Sink& sink) {
  if (!repairing_ || repairing_->first != from || repairing_->second != to) return;  // a stale answer
  repairing_.reset();
  std::uint64_t next = std::max(from, delivered_ + 1);
  // delivered_ moves before the sink hears of it: the sink may ask.
  auto emit = [&](std::uint64_t seq, std::string_view owner, std::string_view line) {
    if (seq < next || seq > to) return;
    if (seq > next) {
      delivered_ = seq - 1;
      sink.gap(next, seq - 1);
    }
    delivered_ = seq;
    next = seq + 1;
    sink.deliver(seq, owner, line);
  };
  static const std::vector<Repaired> none;
  const std::vector<Repaired>& found = messages ? *messages : none;
  std::size_t i = 0;
  auto live = held_.begin();
  while (i < found.size() || (live != held_.end() && live->first <= to)) {
    const bool take_found =
        i < found.size() && (live == held_.end() || live->first > to || found[i].seq <= live->first);
    if (take_found) {
      if (live != held_.end() && live->first == found[i].seq) ++live;  // the same message twice
      emit(found[i].seq, found[i].owner, found[i].line);
      ++i;
    } else {
      emit(live->first, live->second.owner, live->second.line);
      ++live;
    }
  }
  held_.erase(held_.begin(), live);
  if (next <= to) {
    delivered_ = to;
    sink.gap(next, to);
  }
  release_held(sink);
}

bool ChannelFeed::hold(std::uint64_t seq, std::string_view owner, std::string_view line, Sink& sink) {
  held_.try_emplace(seq, Held{std::string(owner), std::string(line)});
  if (held_.size() <= max_held_) return true;
  give_up(sink);
  return !anchored_;
}

// Delivers what is held in order from the last delivered seq; at a hole,
// asks for its repair.
void ChannelFeed::release_held(Sink& sink) {
  if (!anchored_ || repairing_) return;
  while (!held_.empty()) {
    auto first = held_.begin();
    if (first->first <= delivered_) {
      held_.erase(first);
      continue;
    }
    if (first->first != delivered_ + 1) {
      repairing_.emplace(delivered_ + 1, first->first - 1);
      sink.repair(delivered_ + 1, first->first - 1);
      return;
    }
    delivered_ = first->first;
    sink.deliver(first->first, first->second.owner, first->second.line);
    held_.erase(first);
  }
}

// Too much held: deliver what is held, calling the holes gaps, and stop
// waiting for the repair under way (its answer will be stale).
void ChannelFeed::give_up(Sink& sink) {
  if (!anchored_) {  // no anchor yet: keep only the newest
    held_.erase(held_.begin());
    return;
  }
  repairing_.reset();
  while (!held_.empty()) {
    auto first = held_.begin();
    if (first->first > delivered_ + 1) {
      const std::uint64_t from = delivered_ + 1;
      delivered_ = first->first - 1;
      sink.gap(from, first->first - 1);
    }
    if (first->first > delivered_) {
      delivered_ = first->first;
      sink.deliver(first->first, first->second.owner, first->second.line);
    }
    held_.erase(first);
  }
}

}  // namespace parley::cluster
