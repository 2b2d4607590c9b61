// The error codes of protocol v1, replies and fatal ones alike.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

enum class ErrorCode {
  // Replies: the connection stays open.
  bad_json,
  bad_request,
  unknown_command,
  not_registered,
  already_registered,
  invalid_nick,
  nick_in_use,
  invalid_channel,
  no_such_channel,
  not_in_channel,
  no_such_nick,
  text_too_long,
  too_many_channels,
  rate_limited,
  auth_failed,
  unavailable,  // a cluster's backplane is unreachable; with retry_ms
  internal,
  // Fatal: sent as an `error` event, then the server closes.
  line_too_long,
  slow_consumer,
  idle_timeout,
  server_full,
  bad_proxy_header,
  shutting_down,
  replaced,  // another connection resumed this session
};

inline constexpr std::size_t error_code_count = static_cast<std::size_t>(ErrorCode::replaced) + 1;

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

}  // namespace parley
