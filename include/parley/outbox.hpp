// A connection's unsent output: a queue of shared, immutable lines plus the
// offset of the first unsent byte in the front one.
//
// The queue holds references, never copies: an event for N recipients sits in
// N outboxes as one buffer. Lines handed to an in-flight uv_write stay at the
// front until its callback consumes them, which keeps their bytes alive.
#pragma once

#include <uv.h>

#include <cstddef>
#include <deque>

#include "parley/encode.hpp"

namespace parley {

class Outbox {
 public:
  // Replies answer the client's own requests and are bounded by pausing its
  // input; events are pushed by others and count toward `max_pending`.
  enum class Kind : unsigned char { reply, event };

  void push(Bytes line, Kind kind);

  // Points up to `max` buffers at the unsent bytes, skipping the first
  // `skip` bytes (those already handed to an in-flight write). Returns the
  // number of buffers filled.
  std::size_t gather(uv_buf_t* bufs, std::size_t max, std::size_t skip = 0) const;

  // `n` bytes were written: drop what is done, keep the offset into the rest.
  void consume(std::size_t n);

  // Keeps only the front line if it is partly written; drops the rest.
  void drop_unstarted();

  std::size_t bytes() const { return bytes_; }
  std::size_t event_bytes() const { return event_bytes_; }
  bool empty() const { return bytes_ == 0; }

 private:
  struct Entry {
    Bytes line;
    Kind kind;
  };
  std::deque<Entry> entries_;
  std::size_t offset_ = 0;       // bytes of entries_.front() already written
  std::size_t bytes_ = 0;        // unwritten bytes in all entries
  std::size_t event_bytes_ = 0;  // the part of bytes_ that is events
};

}  // namespace parley
