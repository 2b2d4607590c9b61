#include "parley/outbox.hpp"

namespace parley {

void Outbox::push(Bytes line, Kind kind) {
  const std::size_t size = line->size();
  if (size == 0) return;
  bytes_ += size;
  if (kind == Kind::event) event_bytes_ += size;
  entries_.push_back({std::move(line), kind});
}

std::size_t Outbox::gather(uv_buf_t* bufs, std::size_t max, std::size_t skip) const {
  std::size_t count = 0;
  std::size_t offset = offset_ + skip;
  for (const Entry& e : entries_) {
    if (count == max) break;
    const std::size_t size = e.line->size();
    if (offset >= size) {
      offset -= size;
      continue;
    }
    // libuv takes char*, but never writes through it.
    bufs[count++] = uv_buf_init(const_cast<char*>(e.line->data() + offset),
                                static_cast<unsigned>(size - offset));
    offset = 0;
  }
  return count;
}

void Outbox::consume(std::size_t n) {
  bytes_ -= n;
  while (n > 0) {
    Entry& front = entries_.front();
    const std::size_t left = front.line->size() - offset_;
    if (n < left) {
      offset_ += n;
      if (front.kind == Kind::event) event_bytes_ -= n;
      return;
    }
    n -= left;
    if (front.kind == Kind::event) event_bytes_ -= left;
    entries_.pop_front();
    offset_ = 0;
  }
}

void Outbox::drop_unstarted() {
  const std::size_t keep = offset_ > 0 ? 1 : 0;
  while (entries_.size() > keep) {
    const Entry& back = entries_.back();
    bytes_ -= back.line->size();
    if (back.kind == Kind::event) event_bytes_ -= back.line->size();
    entries_.pop_back();
  }
}

}  // namespace parley
