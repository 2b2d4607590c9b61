#include "parley/net/outbox.hpp"

#include <utility>

namespace parley {

void Outbox::push(Bytes line, Kind kind) { add({std::move(line), nullptr, kind}); }

void Outbox::push(Bytes bytes, FramingRef framing, Kind kind) { add({std::move(bytes), std::move(framing), kind}); }

void Outbox::add(Entry entry) {
  const std::size_t size = entry.size();
  if (size == 0) return;
  if (count_ == capacity_) grow();
  bytes_ += size;
  if (entry.kind == Kind::event) event_bytes_ += size;
  at(count_++) = std::move(entry);
}

void Outbox::grow() {
  const std::size_t capacity = capacity_ == 0 ? 4 : capacity_ * 2;
  auto ring = std::make_unique<Entry[]>(capacity);
  for (std::size_t i = 0; i < count_; ++i) ring[i] = std::move(at(i));
  ring_ = std::move(ring);
  capacity_ = capacity;
  head_ = 0;
}

void Outbox::pop_front() {
  at(0) = {};
  head_ = (head_ + 1) & (capacity_ - 1);
  offset_ = 0;
  if (--count_ == 0 && capacity_ > kept_capacity) {
    ring_.reset();
    capacity_ = 0;
    head_ = 0;
  }
}

std::size_t Outbox::gather(Slice* slices, std::size_t max, std::size_t skip) const {
  std::size_t count = 0;
  std::size_t offset = offset_ + skip;
  for (std::size_t i = 0; i < count_ && count < max; ++i) {
    const Entry& e = at(i);
    const std::size_t size = e.size();
    if (offset >= size) {
      offset -= size;
      continue;
    }
    if (e.framing)
      count += gather_framed(e, offset, slices + count, max - count);
    else
      slices[count++] = {e.line->data() + offset, size - offset};
    offset = 0;
  }
  return count;
}

std::size_t Outbox::gather_framed(const Entry& e, std::size_t offset, Slice* slices, std::size_t max) {
  std::size_t count = 0;
  const char* headers = e.framing->headers.data();
  const char* payload = e.line->data();
  for (const Framing::Piece& p : e.framing->pieces) {
    if (count == max) break;
    if (offset >= p.header_size + std::size_t{p.payload_size}) {
      offset -= p.header_size + std::size_t{p.payload_size};
      continue;
    }
    if (offset < p.header_size) {
      slices[count++] = {headers + p.header_offset + offset, p.header_size - offset};
      offset = 0;
      if (count == max) break;
    } else {
      offset -= p.header_size;
    }
    if (p.payload_size > offset) slices[count++] = {payload + p.payload_offset + offset, p.payload_size - offset};
    offset = 0;
  }
  return count;
}

void Outbox::consume(std::size_t n) {
  bytes_ -= n;
  while (n > 0) {
    const Entry& front = at(0);
    const std::size_t left = front.size() - offset_;
    if (n < left) {
      offset_ += n;
      if (front.kind == Kind::event) event_bytes_ -= n;
      return;
    }
    n -= left;
    if (front.kind == Kind::event) event_bytes_ -= left;
    pop_front();
  }
}

void Outbox::drop_unstarted() {
  const std::size_t keep = offset_ > 0 ? 1 : 0;
  while (count_ > keep) {
    Entry& back = at(count_ - 1);
    bytes_ -= back.size();
    if (back.kind == Kind::event) event_bytes_ -= back.size();
    back = {};
    --count_;
  }
}

}  // namespace parley
