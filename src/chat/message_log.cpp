#include "parley/chat/message_log.hpp"

#include <algorithm>
#include <limits>

namespace parley {

void MessageLog::append(std::uint64_t seq, std::int64_t ts, std::string_view from,
                        std::string_view text) {
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back({seq, ts, std::string(from), std::string(text)});
    return;
  }
  LoggedMessage& slot = ring_[oldest_];
  oldest_ = (oldest_ + 1) % capacity_;
  slot.seq = seq;
  slot.ts = ts;
  slot.from.assign(from);
  slot.text.assign(text);
}

MessageLog::Page MessageLog::query(std::optional<std::uint64_t> before,
                                   std::optional<std::uint64_t> after, unsigned limit,
                                   std::uint64_t latest_seq) const {
  Page page;
  // Half-open seq ranges [first, end) throughout.
  const std::uint64_t oldest_kept = ring_.empty() ? latest_seq + 1 : at(0).seq;
  const std::uint64_t end = before ? std::min(*before, latest_seq + 1) : latest_seq + 1;
  std::uint64_t first;
  std::uint64_t last;
  if (after) {
    const std::uint64_t wanted =
        *after == std::numeric_limits<std::uint64_t>::max() ? *after : *after + 1;
    page.truncated = wanted < std::min(oldest_kept, end);
    first = std::max(wanted, oldest_kept);
    last = first >= end ? first : std::min(end, first + limit);
  } else {
    last = end;
    first = end > oldest_kept + limit ? end - limit : oldest_kept;
    if (first > last) first = last;
  }
  for (std::uint64_t seq = first; seq < last; ++seq)
    page.messages.push_back(&at(seq - oldest_kept));
  return page;
}

}  // namespace parley
