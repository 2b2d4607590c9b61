#include "parley/chat/errors.hpp"

namespace parley {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_json: return "bad_json";
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::unknown_command: return "unknown_command";
    case ErrorCode::not_registered: return "not_registered";
    case ErrorCode::already_registered: return "already_registered";
    case ErrorCode::invalid_nick: return "invalid_nick";
    case ErrorCode::nick_in_use: return "nick_in_use";
    case ErrorCode::invalid_channel: return "invalid_channel";
    case ErrorCode::no_such_channel: return "no_such_channel";
    case ErrorCode::not_in_channel: return "not_in_channel";
    case ErrorCode::no_such_nick: return "no_such_nick";
    case ErrorCode::text_too_long: return "text_too_long";
    case ErrorCode::too_many_channels: return "too_many_channels";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::auth_failed: return "auth_failed";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::internal: return "internal";
    case ErrorCode::line_too_long: return "line_too_long";
    case ErrorCode::slow_consumer: return "slow_consumer";
    case ErrorCode::idle_timeout: return "idle_timeout";
    case ErrorCode::server_full: return "server_full";
    case ErrorCode::bad_proxy_header: return "bad_proxy_header";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::replaced: return "replaced";
  }
  return "internal";
}

}  // namespace parley
