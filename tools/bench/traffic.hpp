// Message traffic between a fixed population: fanout (one channel, S
// subscribers, P publishers), rooms (R channels of M talking members), pairs
// (users messaging a partner directly) and ramp (fanout at a rising offered
// rate).
//
// Closed loop: each publisher keeps --window messages in flight; a message
// leaves the window once it is acked and every recipient has it, so no
// server is ever asked to buffer more than window x recipients deliveries.
// Open loop: messages are sent at fixed times (--rate in total, round robin
// over the publishers), stamped with the time they were due rather than the
// time they went out, so a server that stalls the loader still shows its
// queueing in the latencies.
#pragma once

#include "population.hpp"

namespace parley::bench {

Result run_traffic(const Options& options, const Protocol& protocol);

}  // namespace parley::bench
