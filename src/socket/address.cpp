#include "parley/socket/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace parley {

std::string Address::text() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  return join_host_port(host, port);
}

std::string join_host_port(std::string_view host, unsigned port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string out;
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  return out + ":" + std::to_string(port);
}

std::string format_ip_port(int family, const void* ip, unsigned port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, ip, text, sizeof text)) return {};
  return join_host_port(text, port);
}

std::string format_socket_address(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(addr);
    return format_ip_port(AF_INET6, &a6.sin6_addr, ntohs(a6.sin6_port));
  }
  if (addr.ss_family == AF_INET) {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(addr);
    return format_ip_port(AF_INET, &a4.sin_addr, ntohs(a4.sin_port));
  }
  return {};
}

namespace {

std::string port_error() { return "port must be a number from 0 to " + std::to_string(max_port); }

}  // namespace

std::optional<Address> parse_address(std::string_view text, std::string& error) {
  Address address;
  if (text.starts_with("unix:")) {
    address.kind = Address::Kind::unix_socket;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) {
      error = "unix: needs a path";
      return std::nullopt;
    }
    if (address.path.size() > max_unix_path) {
      error = "unix socket path is longer than " + std::to_string(max_unix_path) + " bytes";
      return std::nullopt;
    }
    return address;
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    error = "expected HOST:PORT, [IPV6]:PORT or unix:PATH";
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    error = "an IPv6 address goes in brackets: [::1]:PORT";
    return std::nullopt;
  }
  if (host.empty()) {
    error = "missing host before ':'";
    return std::nullopt;
  }
  unsigned long value = 0;
  if (port.empty() || port.size() > 5) {
    error = port_error();
    return std::nullopt;
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      error = port_error();
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value > max_port) {
    error = port_error();
    return std::nullopt;
  }
  address.host = std::string(host);
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

}  // namespace parley
