// A connection's unsent output: a queue of shared, immutable lines plus the
// offset of the first unsent byte in the front one.
//
// The queue holds references, never copies: an event for N recipients sits in
// N outboxes as one buffer. Lines handed to an in-flight uv_write stay at the
// front until its callback consumes them, which keeps their bytes alive.
// It knows nothing of libuv: it gathers into plain slices, which the stream
// hands to one vectored write.
//
// An entry is either a buffer as it is (the line transport: one slice), or
// a buffer with a Framing: a header in front of each of its lines (the
// WebSocket: one frame per line), gathered as header and payload slices
// straight from the shared buffer, so a recipient's frames cost no copy of
// the payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parley/hub/session.hpp"
#include "parley/protocol/bytes.hpp"

namespace parley {

// Some bytes to write: where they start and how many.
struct Slice {
  const char* data;
  std::size_t size;
};

// How a shared buffer goes on the wire when not as it is: pieces, each a
// header (from `headers`) followed by a range of the buffer. Immutable once
// built, and built once per buffer, shared by every outbox that queues it;
// the headers live here, so they stay put while a write is in flight.
struct Framing {
  struct Piece {
    std::uint32_t header_offset;
    std::uint32_t header_size;
    std::uint32_t payload_offset;
    std::uint32_t payload_size;
  };
  std::string headers;
  std::vector<Piece> pieces;
  std::size_t wire_size = 0;  // every header and payload byte
  // The pieces laid out once, contiguously (wire_size bytes), when the
  // framer made them (transport/ws: for a buffer of several lines): then a
  // write takes one slice of it instead of a header and a payload slice per
  // piece. The pieces still say where each one ends.
  std::string wire;
};
using FramingRef = std::shared_ptr<const Framing>;

class Outbox {
 public:
  // Replies answer the client's own requests and are bounded by pausing its
  // input; events are pushed by others and count toward `max_pending`.
  using Kind = OutputKind;

  void push(Bytes line, Kind kind);
  // `bytes` as `framing` lays it out (the framing was built for these bytes).
  void push(Bytes bytes, FramingRef framing, Kind kind);

  // Points up to `max` slices at the unsent bytes, skipping the first
  // `skip` bytes (those already handed to an in-flight write). Returns the
  // number of slices filled.
  std::size_t gather(Slice* slices, std::size_t max, std::size_t skip = 0) const;

  // `n` bytes were written: drop what is done, keep the offset into the rest.
  void consume(std::size_t n);

  // Drops everything no write has started: the first `started` unwritten
  // bytes are handed to a write in flight. Of the entry written last only
  // the rest of its line (or, framed, its frame) under way is kept, so that
  // whatever is pushed next starts on the wire at a line or frame boundary.
  // Once per connection, at its end: one entry at most is ever cut.
  void drop_unstarted(std::size_t started = 0);

  std::size_t bytes() const { return bytes_; }
  std::size_t event_bytes() const { return event_bytes_; }
  bool empty() const { return bytes_ == 0; }
  std::size_t lines() const { return count_; }

 private:
  struct Entry {
    Bytes line;
    FramingRef framing;  // null: the line as it is
    Kind kind;
    std::size_t size() const { return framing ? framing->wire_size : line->size(); }
  };
  // A ring of entries, not a std::deque: an idle connection owns no queue
  // memory at all (a deque allocates a map and a 512-byte node up front),
  // and a busy one reuses the same few slots turn after turn. The capacity
  // doubles when full, and a ring grown past `kept_capacity` by a backlog is
  // freed once the backlog is written.
  static constexpr std::size_t kept_capacity = 64;
  Entry& at(std::size_t i) { return ring_[(head_ + i) & (capacity_ - 1)]; }
  const Entry& at(std::size_t i) const { return ring_[(head_ + i) & (capacity_ - 1)]; }
  void grow();
  void pop_front();
  void add(Entry entry);
  // Slices of a framed entry from `offset` on; returns the count filled.
  static std::size_t gather_framed(const Entry& e, std::size_t offset, std::size_t end, Slice* slices,
                                   std::size_t max);
  // The size of entry `i` as it is queued: one may be cut short.
  std::size_t slot(std::size_t i) const { return (head_ + i) & (capacity_ - 1); }
  std::size_t size_at(std::size_t i) const {
    return cut_end_ != 0 && slot(i) == cut_slot_ ? cut_end_ : at(i).size();
  }
  // Where the line or frame that holds byte `offset` of `e` ends.
  static std::size_t unit_end(const Entry& e, std::size_t offset);

  std::unique_ptr<Entry[]> ring_;
  std::size_t capacity_ = 0;     // a power of two, or 0
  std::size_t head_ = 0;         // index of the front entry
  std::size_t count_ = 0;        // entries queued
  std::size_t offset_ = 0;       // bytes of the front entry already written
  std::size_t cut_slot_ = 0;     // drop_unstarted's cut: the ring slot of the entry cut short
  std::size_t cut_end_ = 0;      // ... and where it now ends (0: none is cut)
  std::size_t bytes_ = 0;        // unwritten bytes in all entries
  std::size_t event_bytes_ = 0;  // the part of bytes_ that is events
};

}  // namespace parley
