// Everything `parleyd` can be told on its command line, with the defaults
// documented in docs/operations.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parley/socket/address.hpp"
#include "parley/chat/limits.hpp"
#include "parley/log/log.hpp"

namespace parley {

struct ServerConfig {
  std::vector<Address> listen;           // default 127.0.0.1:7667
  Limits limits;
  unsigned idle_timeout_s = 120;
  unsigned ping_interval_s = 25;         // lowered to idle_timeout_s / 2
  std::size_t max_clients = 10000;
  // Per client IP (the PROXY header's source behind a balancer); 0: no limit.
  std::size_t max_conns_per_ip = 1000;
  std::size_t max_pending = 1048576;     // bytes of unsent events per connection
  unsigned drain_timeout_s = 10;
  unsigned shutdown_retry_ms = 2000;     // `retry_ms` of the shutdown event
  bool proxy_protocol = false;           // expect a PROXY v1/v2 header first
  std::optional<std::string> auth_token; // read from --auth-token-file
  std::string auth_token_file;
  LogLevel log_level = LogLevel::info;
};

}  // namespace parley
