#include "parley/cluster/local_channel.hpp"

#include <algorithm>

namespace parley::cluster {

void LocalChannel::add(ConnId conn, std::uint64_t head) {
  if (has(conn)) return;
  if (feed_.anchored() && feed_.delivered() >= head)
    receiving_.push_back(conn);
  else
    pending_.emplace_back(conn, head);
  receiving_list_.reset();
  everyone_list_.reset();
}

void LocalChannel::remove(ConnId conn) {
  std::erase(receiving_, conn);
  std::erase_if(pending_, [conn](const auto& p) { return p.first == conn; });
  receiving_list_.reset();
  everyone_list_.reset();
}

bool LocalChannel::has(ConnId conn) const {
  return std::find(receiving_.begin(), receiving_.end(), conn) != receiving_.end() ||
         std::any_of(pending_.begin(), pending_.end(), [conn](const auto& p) { return p.first == conn; });
}

const ConnList& LocalChannel::for_message(std::uint64_t seq) {
  if (!pending_.empty()) {
    const auto moved = std::stable_partition(pending_.begin(), pending_.end(),
                                             [seq](const auto& p) { return p.second >= seq; });
    if (moved != pending_.end()) {
      for (auto it = moved; it != pending_.end(); ++it) receiving_.push_back(it->first);
      pending_.erase(moved, pending_.end());
      receiving_list_.reset();
    }
  }
  if (!receiving_list_) receiving_list_ = std::make_shared<const std::vector<ConnId>>(receiving_);
  return receiving_list_;
}

const ConnList& LocalChannel::everyone() {
  if (!everyone_list_) {
    auto all = std::make_shared<std::vector<ConnId>>(receiving_);
    for (const auto& p : pending_) all->push_back(p.first);
    everyone_list_ = std::move(all);
  }
  return everyone_list_;
}

void LocalChannel::remember(std::uint64_t seq, std::string_view line, ConnId sender) {
  if (recent_.empty()) {
    recent_.resize(recent_capacity);
    recent_senders_.resize(recent_capacity);
  }
  if (recent_count_ == 0 || seq != recent_last_ + 1) recent_count_ = 0;  // a hole: start again
  recent_[seq % recent_capacity].assign(line);
  recent_senders_[seq % recent_capacity] = sender;
  recent_last_ = seq;
  recent_count_ = std::min(recent_count_ + 1, recent_capacity);
}

std::optional<LocalChannel::Recent> LocalChannel::recent(std::uint64_t seq) const {
  if (recent_count_ == 0 || seq > recent_last_ || recent_last_ - seq >= recent_count_) return std::nullopt;
  return Recent{recent_[seq % recent_capacity], recent_senders_[seq % recent_capacity]};
}

}  // namespace parley::cluster
