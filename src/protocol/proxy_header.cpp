#include "parley/protocol/proxy_header.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "parley/socket/address.hpp"

namespace parley {
namespace {

using Status = ProxyHeader::Status;

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max = 107;  // the spec's bound, CRLF included
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};

ProxyHeader bad() { return {Status::bad, 0, {}, false}; }

bool is_prefix_of(std::string_view data, std::string_view full) {
  return full.substr(0, data.size()) == data.substr(0, full.size());
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> parts;
  while (!s.empty()) {
    const std::size_t space = s.find(' ');
    parts.push_back(s.substr(0, space));
    if (space == std::string_view::npos) break;
    s.remove_prefix(space + 1);
  }
  return parts;
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool valid_address(int family, std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return false;
  std::array<unsigned char, 16> buffer{};
  const std::string copy(text);
  return inet_pton(family, copy.c_str(), buffer.data()) == 1;
}

ProxyHeader parse_v1(std::string_view data) {
  const std::size_t crlf = data.find("\r\n");
  if (crlf == std::string_view::npos)
    return data.size() < v1_max ? ProxyHeader{} : bad();
  if (crlf + 2 > v1_max) return bad();
  const auto parts = split_spaces(data.substr(v1_prefix.size(), crlf - v1_prefix.size()));
  ProxyHeader header{Status::complete, crlf + 2, {}, false};
  if (!parts.empty() && parts[0] == "UNKNOWN") return header;
  if (parts.size() != 5) return bad();
  const bool v4 = parts[0] == "TCP4";
  if (!v4 && parts[0] != "TCP6") return bad();
  const int family = v4 ? AF_INET : AF_INET6;
  if (!valid_address(family, parts[1]) || !valid_address(family, parts[2]) ||
      !valid_port(parts[3]) || !valid_port(parts[4]))
    return bad();
  header.source = join_host_port(parts[1], static_cast<unsigned>(std::stoul(std::string(parts[3]))));
  return header;
}

std::string format_v2_source(int family, const unsigned char* address, const unsigned char* port) {
  return format_ip_port(family, address, (unsigned{port[0]} << 8) | port[1]);
}

ProxyHeader parse_v2(std::string_view data) {
  if (data.size() < 16) return {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned version = bytes[12] >> 4;
  const unsigned command = bytes[12] & 0x0f;
  const unsigned family = bytes[13];
  const std::size_t length = (std::size_t{bytes[14]} << 8) | bytes[15];
  if (version != 2 || command > 1 || 16 + length > max_proxy_header) return bad();
  if (data.size() < 16 + length) return {};
  ProxyHeader header{Status::complete, 16 + length, {}, false};
  if (command == 0) {  // LOCAL: a health check from the balancer itself; its address block is ignored
    header.local = true;
    return header;
  }
  const unsigned char* address = bytes + 16;
  if (family == 0x11 && length >= 12)
    header.source = format_v2_source(AF_INET, address, address + 8);
  else if (family == 0x21 && length >= 36)
    header.source = format_v2_source(AF_INET6, address, address + 32);
  else if (family != 0x00 && family != 0x31 && family != 0x32)
    return bad();  // 0x00 UNSPEC and AF_UNIX carry no address we use
  return header;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view data) {
  if (is_prefix_of(data, v2_signature))
    return data.size() < v2_signature.size() ? ProxyHeader{} : parse_v2(data);
  if (is_prefix_of(data, v1_prefix))
    return data.size() < v1_prefix.size() ? ProxyHeader{} : parse_v1(data);
  return bad();
}

}  // namespace parley
