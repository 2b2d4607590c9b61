// Listen and connect addresses as users write them:
//   HOST:PORT   (127.0.0.1:7667, localhost:0, 0.0.0.0:7667)
//   [V6]:PORT   ([::1]:7667, [::]:0)
//   unix:PATH   (unix:/run/parley.sock)
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// Where parleyd listens and the client connects when told nothing else.
inline constexpr std::string_view default_address = "127.0.0.1:7667";
// The longest Unix socket path: Linux's sockaddr_un.sun_path less its NUL.
inline constexpr std::size_t max_unix_path = 107;
inline constexpr unsigned max_port = 65535;

struct Address {
  enum class Kind { tcp, unix_socket } kind = Kind::tcp;
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string path;  // for unix sockets

  // The form a user writes; IPv6 hosts in brackets.
  std::string text() const;
};

// nullopt with `error` set when the text is not an address.
std::optional<Address> parse_address(std::string_view text, std::string& error);

// "HOST:PORT", with an IPv6 host (one containing ':') in brackets.
std::string join_host_port(std::string_view host, unsigned port);

// An AF_INET or AF_INET6 address in binary form (network order) as
// "1.2.3.4:80" or "[::1]:80".
std::string format_ip_port(int family, const void* ip, unsigned port);

// A TCP socket address as "1.2.3.4:80" or "[::1]:80"; "" for other families.
std::string format_socket_address(const sockaddr_storage& addr);

}  // namespace parley
