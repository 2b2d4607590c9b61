// A channel's history: the last `capacity` messages, in seq order, and the
// page arithmetic of the `history` command.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct LoggedMessage {
  std::uint64_t seq;
  std::int64_t ts;
  std::string from;
  std::string text;
};

class MessageLog {
 public:
  explicit MessageLog(std::size_t capacity) : capacity_(capacity) {}

  // Messages arrive with consecutive seq numbers; the oldest falls out.
  void append(std::uint64_t seq, std::int64_t ts, std::string_view from, std::string_view text);

  struct Page {
    std::vector<const LoggedMessage*> messages;  // oldest first
    bool truncated = false;
  };

  // Without `after`: the newest `limit` messages older than `before`.
  // With `after`: the oldest `limit` messages newer than `after` (and older
  // than `before`); `truncated` when some right after `after` are gone.
  Page query(std::optional<std::uint64_t> before, std::optional<std::uint64_t> after,
             unsigned limit, std::uint64_t latest_seq) const;

  std::size_t size() const { return ring_.size(); }

 private:
  const LoggedMessage& at(std::size_t i) const { return ring_[(oldest_ + i) % ring_.size()]; }

  // Once full, the newest message is written over the oldest in place: its
  // strings keep their capacity, so a busy channel's history costs no
  // allocation per message. Memory stays within capacity x max_text.
  std::size_t capacity_;
  std::vector<LoggedMessage> ring_;
  std::size_t oldest_ = 0;  // index of the oldest message once the ring is full
};

}  // namespace parley
