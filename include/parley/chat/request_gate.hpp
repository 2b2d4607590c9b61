// What every request passes before it runs, wherever the chat state lives
// (the local core, or the backplane): the session's rate limit, the
// `not_registered` rule, and the decoding error a request may carry.
#pragma once

#include <cstdint>
#include <optional>

#include "parley/chat/command.hpp"
#include "parley/chat/limits.hpp"
#include "parley/chat/outcome.hpp"
#include "parley/chat/token_bucket.hpp"

namespace parley {

// A session's part of the gate.
struct GateState {
  std::optional<TokenBucket> bucket;   // made on the first request
  std::uint64_t refused_in_a_row = 0;  // refused for rate since the last accepted one
};

// The answer when the request must not run (rate_limited, perhaps fatal
// after too many refusals in a row; not_registered; its decoding error),
// nullopt when it may. Every request, valid or not, takes a token.
std::optional<Outcome> gate_request(GateState& state, const Limits& limits, const ChatRequest& request,
                                    bool registered, std::int64_t now_ms);

}  // namespace parley
