#include "parley/net/connection_table.hpp"

#include <utility>

namespace parley {

ConnId ConnectionTable::next_id() {
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

void ConnectionTable::put(std::unique_ptr<Connection> conn) {
  slots_[conn->id() & 0xffffffffu] = std::move(conn);
  ++size_;
}

void ConnectionTable::erase(ConnId id) {
  const std::uint32_t slot = id & 0xffffffffu;
  if (!find(id)) return;
  slots_[slot].reset();
  free_.push_back(slot);
  --size_;
}

}  // namespace parley
