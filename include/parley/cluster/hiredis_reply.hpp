// hiredis's reply tree to Parley's RedisReply. Only the files that talk to
// hiredis include this (it brings in hiredis.h).
#pragma once

#include <hiredis/hiredis.h>

#include "parley/cluster/redis_reply.hpp"

namespace parley::cluster {

// A copy of `reply`, which the caller keeps owning (hiredis frees it when
// the callback returns). A tree over `limits` becomes an error reply ("reply
// too deep ..." / "reply too large ...") instead: the bounds are checked
// before anything is copied, so an oversized tree costs a walk of at most
// max_elements nodes and no allocation. A null `reply` is a failure.
RedisReply copy_reply(const redisReply* reply, const ReplyLimits& limits);

// The error reply for a tree of more than limits.max_elements elements.
RedisReply too_large_reply(const ReplyLimits& limits);

}  // namespace parley::cluster
