// Who may connect: --max-clients over every session, --max-conns-per-ip per
// client address (the PROXY header's source behind a balancer).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

#include "parley/chat/errors.hpp"

namespace parley {

class Admission {
 public:
  // 0 for `per_ip`: no per-address limit.
  Admission(std::size_t max_clients, std::size_t per_ip) : max_clients_(max_clients), per_ip_(per_ip) {}

  // Takes a client slot, or says why not (server_full).
  std::optional<Error> admit();
  void leave() { --clients_; }

  // Counts one more connection from `ip`, or says why not. An empty `ip`
  // (Unix sockets) is never limited.
  std::optional<Error> admit_ip(const std::string& ip);
  void leave_ip(const std::string& ip);

  std::size_t clients() const { return clients_; }
  std::size_t connections_from(const std::string& ip) const;

 private:
  std::size_t max_clients_;
  std::size_t per_ip_;
  std::size_t clients_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;  // no entry at zero
};

}  // namespace parley
