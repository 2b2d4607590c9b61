#include "parley/event_batch.hpp"

namespace parley {

void EventBatch::add(const Recipients& to, const Json& event) {
  if (!open()) to_ = to;
  append_line(text_, event);
}

std::pair<Recipients, Bytes> EventBatch::take() {
  std::pair<Recipients, Bytes> out{std::move(to_), std::make_shared<const std::string>(std::move(text_))};
  to_ = {};
  text_.clear();
  return out;
}

}  // namespace parley
