// Limits the core and the protocol layer enforce; each has a flag (see cli.hpp).
#pragma once

#include <cstddef>

#include "parley/token_bucket.hpp"

namespace parley {

struct Limits {
  std::size_t max_line = 65536;   // bytes before the LF
  std::size_t max_text = 4096;    // bytes of UTF-8 in `text` and `topic`
  std::size_t history = 100;      // messages kept per channel
  std::size_t max_channels = 100; // channels one user may be in
  RateLimit rate;                 // requests per connection
};

}  // namespace parley
