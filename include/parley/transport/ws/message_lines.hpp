// Splits the text of WebSocket messages into request lines: LF ends a line
// inside a message, and the end of a message ends its last line. It is the
// line transport's LineFramer (max_line, CR before LF, empty lines, pausing
// and keeping the rest), with the message's end as one more LF, owed until
// the framer is no longer paused. It works on a framer it is lent (the
// session's own, which served the connection as NDJSON until the upgrade).
#pragma once

#include <string_view>

#include "parley/protocol/framer.hpp"

namespace parley::ws {

class MessageLines {
 public:
  using Status = LineFramer::Status;

  explicit MessageLines(LineFramer& framer) : framer_(framer) {}

  // One piece of a message; on_line(std::string_view) -> bool as for LineFramer.
  template <class OnLine>
  Status feed(std::string_view piece, bool message_end, OnLine&& on_line) {
    const Status status = framer_.feed(piece, on_line);
    if (status == Status::paused) end_owed_ = end_owed_ || message_end;
    if (status != Status::drained || !message_end) return status;
    return framer_.feed("\n", on_line);
  }

  // Hands over the lines kept while paused, then the owed end of a message.
  template <class OnLine>
  Status resume(OnLine&& on_line) {
    const Status status = framer_.resume(on_line);
    if (status != Status::drained || !end_owed_) return status;
    end_owed_ = false;
    return framer_.feed("\n", on_line);
  }

  std::size_t buffered() const { return framer_.buffered(); }

 private:
  LineFramer& framer_;
  bool end_owed_ = false;  // a message ended while paused: its last line ends on resume
};

}  // namespace parley::ws
