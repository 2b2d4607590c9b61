// Why a session closed: one value per cause, each with the text the logs and
// the `quit` event show, and whether what is queued is flushed first.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "parley/chat/errors.hpp"

namespace parley {

enum class CloseReason : unsigned char {
  eof,               // the client closed its side: its requests are answered first
  read_error,        // the socket failed while reading
  write_error,       // ... or while writing
  accept_failed,     // the loop could not take the accepted descriptor
  quit,              // the client said `quit`
  drain_forced,      // a second signal while draining: everyone at once
  proxy_local,       // a PROXY v2 LOCAL header: the balancer's health check, closed quietly
  http_request,      // an HTTP request on a chat port answered (the page, 404, 426, ...): never a chat client
  ws_violation,      // the WebSocket client broke RFC 6455 or sent binary or invalid UTF-8 (1002, 1003, 1007)
  // Fatal errors: the `error` event is sent, then the connection closes.
  line_too_long,
  slow_consumer,     // the one fatal error not flushed: its queue is the problem
  idle_timeout,
  server_full,
  bad_proxy_header,
  rate_limited,      // --flood-limit: refusals in a row
  shutting_down,     // drained
  replaced,          // another connection resumed its session: no `quit`
};

inline constexpr std::size_t close_reason_count = static_cast<std::size_t>(CloseReason::replaced) + 1;

// "connection closed", "quit", or the fatal error's code: the `quit` event's
// reason and the log's.
std::string_view wire_text(CloseReason reason);
// The reason's name as metrics and logs spell it ("eof", "slow_consumer").
std::string_view name(CloseReason reason);
// Whether what is queued for the client is written before the close.
bool flushes_first(CloseReason reason);
// Whether the close is routine enough to log at debug rather than info (a
// balancer's health checks every few seconds would drown the real lines).
bool quiet(CloseReason reason);
// The fatal error behind the reason, if it is one.
std::optional<ErrorCode> fatal_code(CloseReason reason);
// The reason a fatal error closes with.
CloseReason close_reason_for(ErrorCode fatal);

}  // namespace parley
