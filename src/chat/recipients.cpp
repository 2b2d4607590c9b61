#include "parley/chat/outcome.hpp"

namespace parley {

std::vector<ConnId> Recipients::ids() const {
  std::vector<ConnId> out;
  if (!list) return out;
  for (ConnId id : *list)
    if (id != except) out.push_back(id);
  return out;
}

bool Recipients::same_as(const Recipients& other) const {
  if (except != other.except || !list || !other.list) return false;
  if (list == other.list) return true;
  return list->size() <= 4 && *list == *other.list;  // e.g. `msg` after `msg` to one user
}

}  // namespace parley
