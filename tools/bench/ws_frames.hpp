// The loader's side of RFC 6455: the client frames it sends (masked, as a
// browser's are) and the server frames it reads (unmasked), parsed in place
// from the read buffer. Only what a loader needs: no fragmentation on either
// side (the servers it loads send each message as one frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench::ws {

enum Opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// A frame header as it came: where its payload lies in the bytes parsed.
struct FrameHeader {
  bool fin = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::uint8_t mask[4] = {};
  std::size_t header_size = 0;
  std::uint64_t payload_size = 0;
};

// The header size a payload of `size` bytes needs, with a mask or without.
std::size_t header_size(std::uint64_t size, bool masked);

// Parses the header at the start of `in`: false when `in` holds only part of
// it. Throws std::runtime_error on a reserved bit or a non-minimal length.
bool parse_header(std::string_view in, FrameHeader& header);

// XORs `data` with `mask`, starting at `offset` bytes into the mask's cycle.
void apply_mask(char* data, std::size_t size, const std::uint8_t mask[4], std::size_t offset = 0);

// Appends one final frame of `opcode` carrying `payload`, masked with `mask`.
void append_client_frame(std::string& out, std::uint8_t opcode, std::string_view payload, std::uint32_t mask);

// Turns the bytes of `out` from `start` on (one message, its trailing LF
// dropped if there is one) into one masked text frame, in place: the bytes
// move up by the header's size and are masked where they lie.
void frame_tail(std::string& out, std::size_t start, std::uint32_t mask);

// A cheap PRNG for the masks (xorshift64*): browsers draw a fresh mask per
// frame; a loader only needs masks that differ.
class MaskSource {
 public:
  explicit MaskSource(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) : state_(seed | 1) {}
  std::uint32_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<std::uint32_t>((state_ * 0x2545f4914f6cdd1dULL) >> 32);
  }

 private:
  std::uint64_t state_;
};

// The upgrade request: GET `path` with `subprotocol` (none when empty) and
// the fixed key of RFC 6455's own example (a server's work is the same for
// any key; the accept value is then known).
void append_upgrade_request(std::string& out, std::string_view host, std::string_view path,
                            std::string_view subprotocol);

// Parses the HTTP response at the start of `in`: returns its size (through
// the blank line), or 0 while incomplete. Throws std::runtime_error unless it
// is a 101 with the accept value of the fixed key.
std::size_t parse_upgrade_response(std::string_view in);

}  // namespace parley::bench::ws
