// A channel's history: the last `capacity` messages, in seq order, and the
// page arithmetic of the `history` command.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
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
  void append(LoggedMessage message);

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
  std::size_t capacity_;
  std::deque<LoggedMessage> ring_;
};

}  // namespace parley
