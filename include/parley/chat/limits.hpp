// Limits the core and the protocol layer enforce; each has a flag (see cli.hpp).
#pragma once

#include <cstddef>

#include "parley/chat/token_bucket.hpp"

namespace parley {

struct Limits {
  std::size_t max_line = 65536;   // bytes before the LF
  std::size_t max_text = 4096;    // bytes of UTF-8 in `text` and `topic`
  std::size_t history = 100;      // messages kept per channel
  std::size_t max_channels = 100; // channels one user may be in
  RateLimit rate;                 // requests per connection
  // Requests refused by `rate` in a row after which the connection is
  // closed (fatal rate_limited): it is ignoring retry_ms. 0: never.
  std::uint64_t flood_limit = 1000;
};

}  // namespace parley
