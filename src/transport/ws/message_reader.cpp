#include "parley/transport/ws/message_reader.hpp"

#include "parley/transport/ws/close_code.hpp"
#include "parley/transport/ws/frame_header.hpp"

namespace parley::ws {

MessageReader::Status MessageReader::feed(std::string_view& data) {
  if (ended_) return Status::ended;
  switch (frames_.feed(data, *this)) {
    case FrameReader::Status::drained: return Status::drained;
    case FrameReader::Status::stopped: return ended_ ? Status::ended : Status::paused;
    case FrameReader::Status::protocol_error:
      violation(protocol_error, "malformed frame");
      return Status::ended;
    case FrameReader::Status::no_memory:
      violation(1011, "out of memory");
      return Status::ended;
  }
  return Status::ended;
}

bool MessageReader::violation(std::uint16_t code, std::string_view why) {
  ended_ = true;
  handler_.on_violation(code, why);
  return false;
}

bool MessageReader::on_chunk(const FrameChunk& chunk) {
  if (ended_) return false;
  if (chunk.first && !starts_well(chunk)) return false;
  if (chunk.opcode >= static_cast<std::uint8_t>(Opcode::close)) return on_control(chunk);
  return on_text_chunk(chunk);
}

// A frame's header, judged when it arrives (before any of its payload).
bool MessageReader::starts_well(const FrameChunk& chunk) {
  if (!chunk.masked) return violation(protocol_error, "client frames must be masked");
  if (chunk.rsv != 0) return violation(protocol_error, "reserved bits set without an extension");
  switch (static_cast<Opcode>(chunk.opcode)) {
    case Opcode::continuation:
      if (!in_message_) return violation(protocol_error, "continuation frame without a message");
      return true;
    case Opcode::text:
      if (in_message_) return violation(protocol_error, "new message before the last one ended");
      in_message_ = true;
      utf8_.reset();
      return true;
    case Opcode::binary: return violation(unsupported_data, "binary messages are not accepted");
    case Opcode::close:
    case Opcode::ping:
    case Opcode::pong: control_.clear(); return true;
  }
  return violation(protocol_error, "unknown opcode");
}

bool MessageReader::on_control(const FrameChunk& chunk) {
  control_.append(chunk.data);
  if (!chunk.last) return true;
  bool go_on = true;
  switch (static_cast<Opcode>(chunk.opcode)) {
    case Opcode::ping: handler_.on_ping(control_); break;
    case Opcode::close: go_on = on_close_payload(); break;
    default: break;  // an unsolicited pong: nothing to do
  }
  std::string().swap(control_);
  return go_on;
}

// The close frame's payload: nothing, or a valid code and a UTF-8 reason.
bool MessageReader::on_close_payload() {
  if (control_.size() == 1) return violation(protocol_error, "close frame with a one-byte payload");
  std::uint16_t code = no_status;
  if (control_.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<unsigned char>(control_[0]) << 8) | static_cast<unsigned char>(control_[1]));
    if (!valid_received_code(code)) return violation(protocol_error, "invalid close code");
    Utf8Validator reason;
    if (!reason.feed(std::string_view(control_).substr(2)) || !reason.at_boundary())
      return violation(invalid_payload, "close reason is not UTF-8");
  }
  ended_ = true;
  handler_.on_close(code);
  return false;
}

bool MessageReader::on_text_chunk(const FrameChunk& chunk) {
  if (!utf8_.feed(chunk.data)) return violation(invalid_payload, "text is not valid UTF-8");
  const bool message_end = chunk.last && chunk.fin;
  if (message_end) {
    if (!utf8_.at_boundary()) return violation(invalid_payload, "text ends inside a UTF-8 character");
    in_message_ = false;
  }
  return handler_.on_text(chunk.data, message_end);
}

}  // namespace parley::ws
