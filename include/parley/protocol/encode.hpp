// The protocol layer's output side: a reply or event becomes one line of
// bytes, encoded once and shared by every connection that sends it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "parley/chat/core.hpp"
#include "parley/chat/errors.hpp"

namespace parley {

// Immutable once built; each recipient's outbox holds a reference.
using Bytes = std::shared_ptr<const std::string>;

// JSON text plus the LF. Strings are valid UTF-8 by construction (they came
// through the parser); control characters and NUL are escaped.
Bytes encode_line(const Json& message);
// The same line appended to `out`.
void append_line(std::string& out, const Json& message);

// The lines to_json(message) and to_json(ack) make, byte for byte, written
// from the fields directly.
void append_line(std::string& out, const ChatMessage& message);
Bytes encode_line(const ChatAck& ack);
void append_line(std::string& out, const ChatAck& ack);

// The `error` event that precedes a close.
Bytes encode_fatal(ErrorCode code, std::string_view message);

Bytes encode_ping();
Bytes encode_shutdown(std::string_view reason, long long retry_ms);

}  // namespace parley
