#include "parley/chat/request_gate.hpp"

namespace parley {
namespace {

bool allowed_before_hello(CommandKind kind) {
  return kind == CommandKind::hello || kind == CommandKind::ping || kind == CommandKind::quit;
}

// A line that is no request at all (bad_json; bad_request for a
// non-object, a bad id, no cmd) is answered that before not_registered;
// an unknown command is one of the "anything else" refused before hello.
bool is_no_request(const ChatRequest& request) {
  const Error* error = std::get_if<Error>(&request.body);
  return request.kind == CommandKind::unknown && error && error->code != ErrorCode::unknown_command;
}

Outcome refusal(ErrorCode code, std::string message, std::optional<std::uint64_t> retry_ms = std::nullopt) {
  Outcome out;
  out.reply = ErrorReply{code, std::move(message), retry_ms};
  return out;
}

}  // namespace

std::optional<Outcome> gate_request(GateState& state, const Limits& limits, const ChatRequest& request,
                                    bool registered, std::int64_t now_ms) {
  const auto now = static_cast<std::uint64_t>(now_ms);
  if (!state.bucket) state.bucket.emplace(limits.rate, now);
  if (const std::uint64_t retry = state.bucket->take(limits.rate, now)) {
    Outcome out = refusal(ErrorCode::rate_limited, "too many requests; slow down", retry);
    if (limits.flood_limit && ++state.refused_in_a_row > limits.flood_limit)
      out.fatal = Error{ErrorCode::rate_limited, "too many requests refused in a row; retry_ms was ignored"};
    return out;
  }
  state.refused_in_a_row = 0;
  if (!registered && !allowed_before_hello(request.kind) && !is_no_request(request))
    return refusal(ErrorCode::not_registered, "send hello first");
  if (const Error* error = std::get_if<Error>(&request.body)) return refusal(error->code, error->message);
  return std::nullopt;
}

}  // namespace parley
