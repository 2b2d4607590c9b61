// The sessions, found by id in one step; the table owns them.
//
// A ConnId is (number << 32 | slot): `number` counts connections in accept
// order and is what the logs show; `slot` is where the connection sits in
// this table. Queuing an event for each of a channel's members looks each
// one up, so the lookup is an index and a compare rather than a hash probe
// through a chain of nodes. A freed slot is reused under a new number, so an
// id never names two connections.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parley/hub/session.hpp"

namespace parley {

inline std::uint64_t connection_number(ConnId id) { return id >> 32; }

class SessionTable {
 public:
  // A fresh id on a free slot; put() the connection made with it next.
  ConnId next_id();
  void put(std::unique_ptr<Session> conn);
  Session* find(ConnId id) const {
    const std::size_t slot = id & 0xffffffffu;
    Session* conn = slot < slots_.size() ? slots_[slot].get() : nullptr;
    return conn && conn->id() == id ? conn : nullptr;
  }
  void erase(ConnId id);

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  template <class Visit>
  void for_each(Visit&& visit) {
    for (const auto& conn : slots_)
      if (conn) visit(*conn);
  }
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (const auto& conn : slots_)
      if (conn) visit(static_cast<const Session&>(*conn));
  }

 private:
  std::vector<std::unique_ptr<Session>> slots_;
  std::vector<std::uint32_t> free_;  // empty slots below slots_.size()
  std::uint64_t next_number_ = 1;
  std::size_t size_ = 0;
};

}  // namespace parley
