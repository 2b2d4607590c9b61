#include "parley/socket/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace parley {
namespace {

// The address's bytes: 4 for IPv4 (an IPv4-mapped IPv6 address counts as
// IPv4), 16 for IPv6; 0 when it is neither.
std::size_t address_bytes(std::string_view text, std::array<unsigned char, 16>& out) {
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) return 0;
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.data(), mapped, sizeof mapped) == 0) {
    std::memmove(out.data(), out.data() + 12, 4);
    std::memset(out.data() + 4, 0, 12);  // as an IPv4 address's: 10.0.0.1 and ::ffff:10.0.0.1 are one block
    return 4;
  }
  return 16;
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text, std::string& error) {
  const std::size_t slash = text.find('/');
  Cidr cidr;
  const std::size_t size = address_bytes(text.substr(0, slash), cidr.bytes);
  if (size == 0) {
    error = "expected an address block such as 127.0.0.0/8 or ::1";
    return std::nullopt;
  }
  cidr.v6 = size == 16;
  const unsigned max_prefix = static_cast<unsigned>(size * 8);
  cidr.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), cidr.prefix);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || cidr.prefix > max_prefix) {
      error = "the prefix length must be a number from 0 to " + std::to_string(max_prefix);
      return std::nullopt;
    }
  }
  return cidr;
}

bool Cidr::contains(std::string_view ip) const {
  std::array<unsigned char, 16> address{};
  const std::size_t size = address_bytes(ip, address);
  if (size != (v6 ? 16u : 4u)) return false;
  const unsigned whole = prefix / 8, rest = prefix % 8;
  if (std::memcmp(address.data(), bytes.data(), whole) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (address[whole] & mask) == (bytes[whole] & mask);
}

bool any_contains(const std::vector<Cidr>& blocks, std::string_view ip) {
  for (const Cidr& block : blocks)
    if (block.contains(ip)) return true;
  return false;
}

std::string Cidr::text() const {
  char out[64] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
  if (prefix == (v6 ? 128u : 32u)) return out;  // one address
  return std::string(out) + "/" + std::to_string(prefix);
}

}  // namespace parley
