// idle: N registered connections that say nothing. Measures what each costs
// the server in memory, and how fast it still answers a ping among them.
#pragma once

#include "options.hpp"
#include "protocol.hpp"
#include "result.hpp"

namespace parley::bench {

Result run_idle(const Options& options, const Protocol& protocol);

}  // namespace parley::bench
