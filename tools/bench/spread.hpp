// Which --server each connection uses when several are given (a cluster's
// instances, addressed directly rather than through a balancer). Pure
// functions of the shape, so unit tests can check the spread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "options.hpp"

namespace parley::bench {

// The server connection `index` of the scenario's population starts on,
// out of `servers` (at least 1). Population order is the traffic
// scenarios': fanout and ramp put the `publishers` first, then the
// subscribers; rooms room by room; pairs pair by pair; idle in order. For
// connect, `index` is the cycle's number.
//   fanout, ramp: the publishers on server 0, the subscribers round robin
//                 over servers 1..N-1 (over server 0 too when it is alone),
//                 so "publishers on one instance, subscribers on the
//                 others" is what two servers give;
//   every other scenario: index mod N, so every room, every pair and the
//                 connect cycles straddle the servers.
std::uint32_t first_server(Scenario scenario, std::size_t index, std::size_t publishers, std::size_t servers);

// Where a connection goes when it reconnects: the next server, round
// robin (the same one when there is only one, such as a balancer).
std::uint32_t next_server(std::uint32_t current, std::size_t servers);

}  // namespace parley::bench
