#include "parley/net/outbox.hpp"

#include <algorithm>
#include <utility>

namespace parley {
namespace {

// Where byte `wire` of an entry falls in its lines: events count toward
// --max-pending by their line bytes, LF included, as on the line transport,
// whatever framing puts them on the wire (the limits apply as on TCP). A
// frame's header counts nothing, its payload byte for byte, and the LF left
// out counts once the next frame starts (or the entry ends).
std::size_t line_pos(const std::string& line, const Framing* framing, std::size_t wire) {
  if (!framing || wire == 0) return wire;
  std::size_t start = 0;
  for (const Framing::Piece& p : framing->pieces) {
    const std::size_t end = start + p.header_size + p.payload_size;
    if (wire < end) return p.payload_offset + (wire < start + p.header_size ? 0 : wire - start - p.header_size);
    start = end;
  }
  return line.size();
}

}  // namespace

void Outbox::push(Bytes line, Kind kind) { add({std::move(line), nullptr, kind}); }

void Outbox::push(Bytes bytes, FramingRef framing, Kind kind) { add({std::move(bytes), std::move(framing), kind}); }

void Outbox::add(Entry entry) {
  const std::size_t size = entry.size();
  if (size == 0) return;
  if (count_ == capacity_) grow();
  bytes_ += size;
  if (entry.kind == Kind::event) event_bytes_ += entry.line->size();
  at(count_++) = std::move(entry);
}

void Outbox::grow() {
  const std::size_t capacity = capacity_ == 0 ? 4 : capacity_ * 2;
  auto ring = std::make_unique<Entry[]>(capacity);
  for (std::size_t i = 0; i < count_; ++i) ring[i] = std::move(at(i));
  if (cut_end_ != 0) cut_slot_ = (cut_slot_ - head_) & (capacity_ - 1);  // its position from the front
  ring_ = std::move(ring);
  capacity_ = capacity;
  head_ = 0;
}

void Outbox::pop_front() {
  at(0) = {};
  if (cut_end_ != 0 && cut_slot_ == head_) cut_end_ = 0;
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
    const std::size_t size = size_at(i);
    if (offset >= size) {
      offset -= size;
      continue;
    }
    if (e.framing)
      count += gather_framed(e, offset, size, slices + count, max - count);
    else
      slices[count++] = {e.line->data() + offset, size - offset};
    offset = 0;
  }
  return count;
}

// `end`: the entry's size as queued (a cut falls between pieces).
std::size_t Outbox::gather_framed(const Entry& e, std::size_t offset, std::size_t end, Slice* slices,
                                  std::size_t max) {
  if (!e.framing->wire.empty()) {
    if (max == 0 || offset >= end) return 0;
    slices[0] = {e.framing->wire.data() + offset, end - offset};
    return 1;
  }
  std::size_t count = 0;
  const char* headers = e.framing->headers.data();
  const char* payload = e.line->data();
  std::size_t start = 0;  // of the piece, in the entry
  for (const Framing::Piece& p : e.framing->pieces) {
    if (count == max || start >= end) break;
    start += p.header_size + std::size_t{p.payload_size};
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
    const std::size_t size = size_at(0);
    const std::size_t left = size - offset_;
    const std::size_t to = n < left ? offset_ + n : size;
    if (front.kind == Kind::event)
      event_bytes_ -= line_pos(*front.line, front.framing.get(), to) - line_pos(*front.line, front.framing.get(), offset_);
    if (n < left) {
      offset_ = to;
      return;
    }
    n -= left;
    pop_front();
  }
}

std::size_t Outbox::unit_end(const Entry& e, std::size_t offset) {
  if (!e.framing) {
    const std::size_t lf = e.line->find('\n', offset);
    return lf == std::string::npos ? e.line->size() : lf + 1;
  }
  std::size_t end = 0;
  for (const Framing::Piece& p : e.framing->pieces) {
    end += p.header_size + std::size_t{p.payload_size};
    if (end > offset) return end;
  }
  return end;
}

void Outbox::drop_unstarted(std::size_t started) {
  // The entry holding the last started byte, and that byte's offset in it.
  std::size_t keep = 0;
  std::size_t last = 0;
  for (std::size_t pos = offset_ + started; pos > 0 && keep < count_; ++keep) {
    const std::size_t size = size_at(keep);
    if (pos <= size) {
      last = pos - 1;
      ++keep;
      break;
    }
    pos -= size;
  }
  while (count_ > keep) {
    Entry& back = at(count_ - 1);
    const std::size_t size = size_at(count_ - 1);
    const std::size_t from = count_ == 1 ? offset_ : 0;
    bytes_ -= size - from;
    if (back.kind == Kind::event)
      event_bytes_ -= line_pos(*back.line, back.framing.get(), size) - line_pos(*back.line, back.framing.get(), from);
    if (cut_end_ != 0 && slot(count_ - 1) == cut_slot_) cut_end_ = 0;
    back = {};
    --count_;
  }
  if (keep == 0) return;
  const std::size_t i = keep - 1;
  const Entry& e = at(i);
  const std::size_t size = size_at(i);
  const std::size_t end = std::min(unit_end(e, last), size);
  bytes_ -= size - end;
  if (e.kind == Kind::event)
    event_bytes_ -= line_pos(*e.line, e.framing.get(), size) - line_pos(*e.line, e.framing.get(), end);
  // Nothing left under way: the front's line (frame) ended where writing stopped.
  if (i == 0 && end == offset_) return pop_front();
  if (end < size) {
    cut_slot_ = slot(i);
    cut_end_ = end;
  }
}

}  // namespace parley
