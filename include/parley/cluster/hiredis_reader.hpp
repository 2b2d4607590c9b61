// A bound on what hiredis's reader allocates for one reply, before the reply
// ever reaches copy_reply.
//
// Why: hiredis allocates an array's element pointers as soon as it reads the
// count ("*2147483647\r\n" asks for 16 GiB), and hiredis 0.14 has no limit of
// its own. With the bound, the reader still reads the whole reply (so the
// stream stays in step and the connection survives), but once the reply has
// declared more than max_elements elements in all, it builds nothing more of
// it: what one reply can make it allocate is about 8 bytes per allowed
// element plus the bytes actually received, and the reply's owner gets
// too_large_reply() instead of a tree with holes.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>

#include "parley/cluster/redis_reply.hpp"

namespace parley::cluster {

struct ReaderBudget {
  std::size_t max_elements = 0;  // declared array elements per reply, over the whole tree
  std::size_t declared = 0;      // so far, in the reply being read
  bool exceeded = false;         // the reply being read (or just read) went over
};

// Makes `reader`, which must still use hiredis's default reply functions
// (redisReply trees: hiredis's async code relies on them anyway), keep to
// `budget` from its next reply on. `budget` must outlive the reader. The
// budget describes the latest reply until the next one starts, so read it in
// that reply's callback (or right after redisReaderGetReply gave it).
void limit_reader(redisReader* reader, ReaderBudget* budget);

// What to hand over for a reply just read by a reader under `budget`:
// too_large_reply(limits) when the budget cut it short, else copy_reply.
RedisReply copy_read_reply(const redisReply* reply, const ReaderBudget& budget, const ReplyLimits& limits);

}  // namespace parley::cluster
