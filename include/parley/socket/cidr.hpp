// An address block as users write it: 127.0.0.0/8, 10.1.2.3 (a /32),
// ::1 (a /128), fd00::/8. IPv4 clients of a dual-stack listener appear as
// ::ffff:a.b.c.d and match the IPv4 blocks.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct Cidr {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};  // network order; 4 used for IPv4
  unsigned prefix = 0;                    // bits that must match

  std::string text() const;
  bool contains(std::string_view ip) const;  // an address as the logs show it, without port
};

// nullopt with `error` set when the text is not an address block.
std::optional<Cidr> parse_cidr(std::string_view text, std::string& error);

// Whether one of `blocks` contains `ip` (as Cidr::contains takes it).
bool any_contains(const std::vector<Cidr>& blocks, std::string_view ip);

}  // namespace parley
