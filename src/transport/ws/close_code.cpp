#include "parley/transport/ws/close_code.hpp"

namespace parley::ws {

std::uint16_t close_code_for(CloseReason reason) {
  switch (reason) {
    case CloseReason::line_too_long: return message_too_big;
    case CloseReason::shutting_down:
    case CloseReason::drain_forced: return going_away;
    case CloseReason::ws_violation: return protocol_error;
    default: return fatal_code(reason) ? policy_violation : normal_closure;
  }
}

std::string_view close_text_for(CloseReason reason) {
  if (fatal_code(reason) || reason == CloseReason::quit) return wire_text(reason);
  return {};
}

}  // namespace parley::ws
