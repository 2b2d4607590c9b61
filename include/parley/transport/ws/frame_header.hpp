// What the server writes of RFC 6455 framing: the header in front of each
// payload (FIN set, never masked: servers do not mask), and whole control
// frames (pong, close).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// 2 bytes up to 125 bytes of payload, 4 up to 65535, 10 beyond.
inline constexpr std::size_t max_frame_header = 10;
// A control frame's payload, close code and reason included (RFC 6455 5.5).
inline constexpr std::size_t max_control_payload = 125;

// Writes the header of one final, unmasked frame carrying `length` bytes
// into `out` (room for max_frame_header); returns its size.
std::size_t write_frame_header(char* out, Opcode opcode, std::uint64_t length);
constexpr std::size_t frame_header_size(std::uint64_t length) {
  return length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
}

// A whole frame: header and payload (a control frame's payload is cut to
// max_control_payload).
std::string control_frame(Opcode opcode, std::string_view payload);
// A close frame: the code, then the reason (cut to fit, on a UTF-8
// character boundary).
std::string close_frame(std::uint16_t code, std::string_view reason);

}  // namespace parley::ws
