// The `parley` client's loop: typed lines to requests one at a time, the
// server's lines printed as they come, and, unless told not to, connecting
// again by itself after `shutdown` or a lost connection, resuming the
// session and showing what was missed (docs/client.md).
#pragma once

#include <string>

#include "parley/socket/address.hpp"

namespace parley::client {

struct Options {
  std::string nick;
  Address address;
  bool json_mode = false;  // print the server's lines as they came
  bool reconnect = true;   // --no-reconnect turns it off
};

// Runs on `fd`, already connected to options.address, until /quit, the end
// of a piped script, or a connection it does not (or may not) replace.
// Takes `fd` over. Returns the exit status.
int run_terminal(const Options& options, int fd);

}  // namespace parley::client
