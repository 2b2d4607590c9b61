// connect: each of --conns slots runs connect -> greet [-> join] -> goodbye
// -> close, over and over; measures complete cycles per second and how long
// one takes.
#pragma once

#include "options.hpp"
#include "protocol.hpp"
#include "result.hpp"

namespace parley::bench {

Result run_cycles(const Options& options, const Protocol& protocol);

}  // namespace parley::bench
