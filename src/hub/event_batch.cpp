#include "parley/hub/event_batch.hpp"

#include "parley/protocol/encode.hpp"

namespace parley {

void EventBatch::add(const Delivery& delivery) {
  if (!open()) to_ = delivery.to;
  append_event(text_, delivery.event);
  ++events_;
}

void EventBatch::add_line(const Recipients& to, std::string_view line) {
  if (!open()) to_ = to;
  text_ += line;
  ++events_;
}

std::pair<Recipients, Bytes> EventBatch::take() {
  std::pair<Recipients, Bytes> out{std::move(to_), std::make_shared<const std::string>(std::move(text_))};
  to_ = {};
  text_.clear();
  events_ = 0;
  return out;
}

}  // namespace parley
