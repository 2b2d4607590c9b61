// Which WebSocket close code ends a session closed for a given reason
// (the contract: 1009 for line_too_long, 1001 for shutting_down, 1008 for
// every other fatal error), and the reason text the close frame carries.
#pragma once

#include <cstdint>
#include <string_view>

#include "parley/hub/close_reason.hpp"

namespace parley::ws {

inline constexpr std::uint16_t normal_closure = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never sent: "the close frame had no code"
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;

// The code for a close the hub decided. `ws_violation` has its code from
// whoever saw the violation; it maps to 1002 here.
std::uint16_t close_code_for(CloseReason reason);
// The fatal error's code ("line_too_long"), "quit", or "" for closes that
// are no error.
std::string_view close_text_for(CloseReason reason);
// Whether a close frame from a client may carry `code` (RFC 6455 7.4).
// Inline: the message reader, which the fuzz build links without the hub,
// needs it.
constexpr bool valid_received_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;  // registered and private codes
  return code >= 1000 && code <= 1011 && code != 1004 && code != 1005 && code != 1006;
}

}  // namespace parley::ws
