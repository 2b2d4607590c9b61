#include "ws_frames.hpp"

#include <strings.h>

#include <cstring>
#include <stdexcept>

namespace parley::bench::ws {
namespace {

constexpr std::string_view example_key = "dGhlIHNhbXBsZSBub25jZQ==";         // RFC 6455, 1.3
constexpr std::string_view example_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";  // its accept value

std::size_t write_header(char* at, std::uint8_t opcode, std::uint64_t size, bool masked) {
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  at[0] = static_cast<char>(0x80 | opcode);
  if (size < 126) {
    at[1] = static_cast<char>(mask_bit | size);
    return 2;
  }
  if (size <= 0xffff) {
    at[1] = static_cast<char>(mask_bit | 126);
    at[2] = static_cast<char>(size >> 8);
    at[3] = static_cast<char>(size);
    return 4;
  }
  at[1] = static_cast<char>(mask_bit | 127);
  for (int i = 0; i < 8; ++i) at[2 + i] = static_cast<char>(size >> (56 - 8 * i));
  return 10;
}

void put_mask(char* at, std::uint32_t mask) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(mask >> (24 - 8 * i));
}

}  // namespace

std::size_t header_size(std::uint64_t size, bool masked) {
  return (size < 126 ? 2 : size <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
}

bool parse_header(std::string_view in, FrameHeader& h) {
  if (in.size() < 2) return false;
  const auto b0 = static_cast<std::uint8_t>(in[0]);
  const auto b1 = static_cast<std::uint8_t>(in[1]);
  if (b0 & 0x70) throw std::runtime_error("WebSocket frame with a reserved bit set");
  h.fin = b0 & 0x80;
  h.opcode = b0 & 0x0f;
  h.masked = b1 & 0x80;
  std::uint64_t size = b1 & 0x7f;
  std::size_t at = 2;
  if (size >= 126) {
    const std::size_t bytes = size == 126 ? 2 : 8;
    if (in.size() < at + bytes) return false;
    size = 0;
    for (std::size_t i = 0; i < bytes; ++i) size = size << 8 | static_cast<std::uint8_t>(in[at + i]);
    at += bytes;
    if ((bytes == 2 && size < 126) || (bytes == 8 && size <= 0xffff) || (size >> 63))
      throw std::runtime_error("WebSocket frame length not minimally encoded");
  }
  if (h.masked) {
    if (in.size() < at + 4) return false;
    std::memcpy(h.mask, in.data() + at, 4);
    at += 4;
  }
  h.header_size = at;
  h.payload_size = size;
  return true;
}

void apply_mask(char* data, std::size_t size, const std::uint8_t mask[4], std::size_t offset) {
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask[(offset + i) & 3]);
}

void append_client_frame(std::string& out, std::uint8_t opcode, std::string_view payload, std::uint32_t mask) {
  const std::size_t start = out.size();
  char header[14];
  std::size_t n = write_header(header, opcode, payload.size(), true);
  put_mask(header + n, mask);
  n += 4;
  out.append(header, n).append(payload);
  apply_mask(out.data() + start + n, payload.size(), reinterpret_cast<const std::uint8_t*>(header + n - 4));
}

void frame_tail(std::string& out, std::size_t start, std::uint32_t mask) {
  std::size_t size = out.size() - start;
  if (size > 0 && out.back() == '\n') --size;
  const std::size_t head = header_size(size, true);
  out.resize(start + head + size);
  std::memmove(out.data() + start + head, out.data() + start, size);
  char* at = out.data() + start;
  const std::size_t n = write_header(at, text, size, true);
  put_mask(at + n, mask);
  apply_mask(at + head, size, reinterpret_cast<const std::uint8_t*>(at + n));
}

void append_upgrade_request(std::string& out, std::string_view host, std::string_view path,
                            std::string_view subprotocol) {
  out.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ");
  out.append(example_key).append("\r\n");
  if (!subprotocol.empty()) out.append("Sec-WebSocket-Protocol: ").append(subprotocol).append("\r\n");
  out.append("\r\n");
}

std::size_t parse_upgrade_response(std::string_view in) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (in.size() > 16384) throw std::runtime_error("HTTP response header too long");
    return 0;
  }
  const std::string_view head = in.substr(0, end + 2);
  const std::string_view status = head.substr(0, head.find("\r\n"));
  if (status.substr(0, 12) != "HTTP/1.1 101") throw std::runtime_error("upgrade refused: " + std::string(status));
  // Header names are case-insensitive: look for the value, then check its name.
  const auto at = head.find(example_accept);
  constexpr std::string_view name = "sec-websocket-accept:";
  const auto line = at == std::string_view::npos ? std::string_view::npos : head.rfind("\r\n", at);
  if (line == std::string_view::npos || line + 2 + name.size() > at ||
      strncasecmp(head.data() + line + 2, name.data(), name.size()) != 0)
    throw std::runtime_error("upgrade response without the expected Sec-WebSocket-Accept");
  return end + 4;
}

}  // namespace parley::bench::ws
