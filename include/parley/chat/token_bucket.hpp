// Per-connection flood control: a token bucket over requests.
//
// Integer arithmetic in thousandths of a token, so the bucket is exact; the
// rate and burst are the server's (Limits), so a bucket costs 16 bytes.
#pragma once

#include <algorithm>
#include <cstdint>

namespace parley {

struct RateLimit {
  std::uint64_t per_second = 1000;  // 0: unlimited
  std::uint64_t burst = 2000;
};

class TokenBucket {
 public:
  TokenBucket(const RateLimit& limit, std::uint64_t now_ms)
      : milli_tokens_(limit.burst * 1000), last_ms_(now_ms) {}

  // Takes one token at `now_ms`. Returns 0 when there was one; otherwise the
  // milliseconds until there will be (and takes nothing).
  std::uint64_t take(const RateLimit& limit, std::uint64_t now_ms) {
    if (limit.per_second == 0) return 0;
    if (now_ms < last_ms_) last_ms_ = now_ms;  // the wall clock stepped back
    if (now_ms > last_ms_) {
      milli_tokens_ = std::min(limit.burst * 1000, milli_tokens_ + (now_ms - last_ms_) * limit.per_second);
      last_ms_ = now_ms;
    }
    if (milli_tokens_ >= 1000) {
      milli_tokens_ -= 1000;
      return 0;
    }
    return (1000 - milli_tokens_ + limit.per_second - 1) / limit.per_second;
  }

 private:
  std::uint64_t milli_tokens_;
  std::uint64_t last_ms_;
};

}  // namespace parley
