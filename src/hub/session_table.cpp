#include "parley/hub/session_table.hpp"

#include <utility>

namespace parley {

ConnId SessionTable::next_id() {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  return next_number_++ << 32 | slot;
}

void SessionTable::put(std::unique_ptr<Session> conn) {
  slots_[conn->id() & 0xffffffffu] = std::move(conn);
  ++size_;
}

void SessionTable::erase(ConnId id) {
  const std::uint32_t slot = id & 0xffffffffu;
  if (!find(id)) return;
  slots_[slot].reset();
  free_.push_back(slot);
  --size_;
}

}  // namespace parley
