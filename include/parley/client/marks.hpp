// What the `parley` client has seen of each channel it is in: the `seq` of
// the newest message it showed (or the channel's `seq` when it joined) and
// the channel's `epoch`. After a resume it pages `history` after the mark;
// a message at or below the mark has been shown already and is not again.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace parley::client {

struct Mark {
  std::uint64_t seq = 0;
  std::string epoch;
};

class Marks {
 public:
  // A `join` reply: {channel, seq, epoch}.
  void joined(const nlohmann::json& reply);
  void left(const std::string& channel);
  // A message of `channel` numbered `seq` (from an event, a `say` reply or a
  // history page): true when it is new, and then the mark moves up to it;
  // false when it was shown already. A message without a usable seq, or of
  // a channel without a mark, counts as new and moves nothing.
  bool saw(const std::string& channel, const nlohmann::json& seq);
  void set(const std::string& channel, Mark mark);
  // nullptr when the client has no mark for `channel`.
  const Mark* find(const std::string& channel) const;
  void clear() { marks_.clear(); }

 private:
  std::map<std::string, Mark> marks_;  // by ASCII-lowercase channel name
};

}  // namespace parley::client
