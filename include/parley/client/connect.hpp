// Connecting again, bounded: the `parley` client reconnects while the user
// may be typing, so a host that does not answer must not hold it for the
// kernel's two-minute SYN timeout. (Resolving a name still blocks, as
// getaddrinfo does.)
#pragma once

#include <string>

#include "parley/socket/address.hpp"

namespace parley::client {

// A connected, blocking, close-on-exec socket to `address` (its endpoints
// tried in order, each given up to `timeout_ms`); -1 with `error` set.
int connect_within(const Address& address, int timeout_ms, std::string& error);

}  // namespace parley::client
