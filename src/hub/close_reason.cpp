#include "parley/hub/close_reason.hpp"

#include <cassert>

namespace parley {

std::string_view name(CloseReason reason) {
  switch (reason) {
    case CloseReason::eof: return "eof";
    case CloseReason::read_error: return "read_error";
    case CloseReason::write_error: return "write_error";
    case CloseReason::accept_failed: return "accept_failed";
    case CloseReason::quit: return "quit";
    case CloseReason::drain_forced: return "drain_forced";
    case CloseReason::proxy_local: return "proxy_local";
    case CloseReason::http_request: return "http_request";
    case CloseReason::ws_violation: return "ws_violation";
    case CloseReason::line_too_long: return "line_too_long";
    case CloseReason::slow_consumer: return "slow_consumer";
    case CloseReason::idle_timeout: return "idle_timeout";
    case CloseReason::server_full: return "server_full";
    case CloseReason::bad_proxy_header: return "bad_proxy_header";
    case CloseReason::rate_limited: return "rate_limited";
    case CloseReason::shutting_down: return "shutting_down";
    case CloseReason::replaced: return "replaced";
  }
  return "?";
}

std::string_view wire_text(CloseReason reason) {
  switch (reason) {
    case CloseReason::eof:
    case CloseReason::read_error:
    case CloseReason::write_error:
    case CloseReason::proxy_local:
    case CloseReason::http_request:
    case CloseReason::ws_violation: return "connection closed";
    case CloseReason::accept_failed: return "accept failed";
    case CloseReason::quit: return "quit";
    case CloseReason::drain_forced: return "shutting_down";
    default: return name(reason);  // a fatal error: its code
  }
}

bool flushes_first(CloseReason reason) {
  switch (reason) {
    case CloseReason::read_error:
    case CloseReason::write_error:
    case CloseReason::accept_failed:
    case CloseReason::drain_forced:
    case CloseReason::proxy_local:  // a health check is owed nothing
    case CloseReason::slow_consumer: return false;
    default: return true;
  }
}

bool quiet(CloseReason reason) { return reason == CloseReason::proxy_local; }

std::optional<ErrorCode> fatal_code(CloseReason reason) {
  switch (reason) {
    case CloseReason::line_too_long: return ErrorCode::line_too_long;
    case CloseReason::slow_consumer: return ErrorCode::slow_consumer;
    case CloseReason::idle_timeout: return ErrorCode::idle_timeout;
    case CloseReason::server_full: return ErrorCode::server_full;
    case CloseReason::bad_proxy_header: return ErrorCode::bad_proxy_header;
    case CloseReason::rate_limited: return ErrorCode::rate_limited;
    case CloseReason::shutting_down: return ErrorCode::shutting_down;
    case CloseReason::replaced: return ErrorCode::replaced;
    default: return std::nullopt;
  }
}

CloseReason close_reason_for(ErrorCode fatal) {
  switch (fatal) {
    case ErrorCode::line_too_long: return CloseReason::line_too_long;
    case ErrorCode::slow_consumer: return CloseReason::slow_consumer;
    case ErrorCode::idle_timeout: return CloseReason::idle_timeout;
    case ErrorCode::server_full: return CloseReason::server_full;
    case ErrorCode::bad_proxy_header: return CloseReason::bad_proxy_header;
    case ErrorCode::rate_limited: return CloseReason::rate_limited;
    case ErrorCode::shutting_down: return CloseReason::shutting_down;
    case ErrorCode::replaced: return CloseReason::replaced;
    default: break;  // a reply code: never fatal
  }
  assert(!"close_reason_for: not a fatal error code");
  return CloseReason::shutting_down;
}

}  // namespace parley
