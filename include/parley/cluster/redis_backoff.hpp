// How long the Redis connection waits before it connects again. Pure: the
// caller supplies the randomness, so tests need neither a clock nor luck.
#pragma once

#include <cstdint>

namespace parley::cluster {

// After `failures` attempts in a row that did not come up (0 right after a
// connection that had been up for a while went down): min_ms doubled that many times, never
// more than max_ms, then drawn between half of it and all of it (`random` in
// [0, 1)), so that the servers that lost one Redis together do not all come
// back in the same millisecond. At least 1 ms.
std::int64_t reconnect_delay_ms(unsigned failures, std::int64_t min_ms, std::int64_t max_ms, double random);

}  // namespace parley::cluster
