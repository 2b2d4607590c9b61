// A listen address as --listen takes it: an Address, then options after a
// comma.
//   127.0.0.1:7667          plain
//   0.0.0.0:7667,proxy      every connection starts with a PROXY v1/v2 header
//   unix:/run/p.sock,proxy  (so a Unix socket path cannot hold a comma here)
// The options belong to that one listener; what they mean for a connection
// is the transport's to carry out.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "parley/socket/address.hpp"

namespace parley {

struct ListenSpec {
  Address address;
  bool proxy = false;  // a PROXY v1/v2 header comes first on each connection

  // The form a user writes: "127.0.0.1:0,proxy".
  std::string text() const;
};

// nullopt with `error` set when the address is not one, or an option is
// unknown or empty.
std::optional<ListenSpec> parse_listen_spec(std::string_view text, std::string& error);

}  // namespace parley
