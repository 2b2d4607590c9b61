// Consecutive events for the same recipients, encoded back to back into one
// buffer. Every recipient's outbox then takes one reference to the whole
// batch: one queue entry, one iovec and one reference count per recipient
// per batch, instead of per event. A fan-out of 64 messages that arrived in
// one read costs each of 2000 subscribers one entry, not 64.
//
// Ordering is the caller's part: hand the batch out (take()) before queuing
// anything else for a connection it goes to.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "parley/chat/outcome.hpp"
#include "parley/protocol/bytes.hpp"

namespace parley {

class EventBatch {
 public:
  // A batch stops growing at `max_bytes` (the next event starts a new one),
  // which bounds both its memory and the size of one queue entry.
  explicit EventBatch(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  bool open() const { return !text_.empty(); }
  std::size_t events() const { return events_; }  // in the open batch
  const Recipients& recipients() const { return to_; }

  // Whether `event` for `to` can join the open batch (or start one).
  bool accepts(const Recipients& to) const {
    return !open() || (text_.size() < max_bytes_ && to_.same_as(to));
  }
  // Precondition: accepts(delivery.to).
  void add(const Delivery& delivery);
  // An event already written: `line` with its LF. Precondition: accepts(to).
  void add_line(const Recipients& to, std::string_view line);

  // The batch's recipients and its bytes; the batch is empty afterwards.
  std::pair<Recipients, Bytes> take();

 private:
  std::size_t max_bytes_;
  Recipients to_;
  std::string text_;
  std::size_t events_ = 0;
};

}  // namespace parley
