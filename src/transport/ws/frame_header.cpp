#include "parley/transport/ws/frame_header.hpp"

namespace parley::ws {

std::size_t write_frame_header(char* out, Opcode opcode, std::uint64_t length) {
  out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode));
  if (length < 126) {
    out[1] = static_cast<char>(length);
    return 2;
  }
  const int bytes = length <= 0xFFFF ? 2 : 8;
  out[1] = static_cast<char>(bytes == 2 ? 126 : 127);
  for (int i = 0; i < bytes; ++i) out[2 + i] = static_cast<char>(length >> (8 * (bytes - 1 - i)));
  return 2 + static_cast<std::size_t>(bytes);
}

std::string control_frame(Opcode opcode, std::string_view payload) {
  payload = payload.substr(0, max_control_payload);
  char header[max_frame_header];
  std::string frame(header, write_frame_header(header, opcode, payload.size()));
  frame += payload;
  return frame;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::size_t room = max_control_payload - 2;
  if (reason.size() > room) {
    while (room > 0 && (static_cast<unsigned char>(reason[room]) & 0xC0) == 0x80) --room;  // not mid-character
    reason = reason.substr(0, room);
  }
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  payload += reason;
  return control_frame(Opcode::close, payload);
}

}  // namespace parley::ws
