// The protocol layer's output side: every typed reply and event becomes one
// JSON line (with its LF), written straight from its fields by the one writer
// its type has. No JSON document is built: nlohmann_json stays on the input
// side, and in the tests, which parse these bytes back to judge them.
//
// Strings are written as they are when valid UTF-8 (everything that came
// through the parser is), with `"`, `\` and control characters escaped;
// invalid UTF-8 is replaced by U+FFFD, as the library's dump(replace) does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/chat/errors.hpp"
#include "parley/chat/outcome.hpp"
#include "parley/protocol/bytes.hpp"
#include "parley/protocol/request.hpp"

namespace parley {

// The reply to the request that had `id`, appended to `out` / as its own buffer.
void append_reply(std::string& out, const RequestId& id, const Reply& reply);
Bytes encode_reply(const RequestId& id, const Reply& reply);

// An event, appended to `out` (an event batch) / as its own buffer.
void append_event(std::string& out, const Event& event);
Bytes encode_event(const Event& event);

// An event with holes for what only the backplane's script knows: the
// channel's name as first created (or a `msg` target's or a quitting user's
// nick) and, for a channel message, its `seq`. The line is
//   head + "\"" + name + "\"" + middle + seq + tail   (a message)
//   head + "\"" + name + "\"" + middle              (anything else)
// Names and nicks need no JSON escaping (names.hpp allows none of the
// characters that do), so the script only adds the quotes. The template
// is written by the same writer as the event (encode_event's bytes).
struct EventTemplate {
  std::string head;
  std::string middle;
  std::string tail;
  std::string fill(std::string_view name, std::uint64_t seq = 0) const;  // the line, as a script makes it
};
// The hole is `channel` (Joined, Parted, TopicSet, a channel ChatMessage),
// `to` (a direct ChatMessage) or `nick` (UserQuit); `seq` for a message.
EventTemplate event_template(const Event& event);

// The events the server sends of its own accord.
Bytes encode_fatal(ErrorCode code, std::string_view message);  // `error`, then close
Bytes encode_ping();                                           // one shared buffer
Bytes encode_shutdown(std::string_view reason, std::uint64_t retry_ms);
Bytes encode_gap(std::string_view channel, std::uint64_t from, std::uint64_t to);  // a cluster lost these

// A JSON string literal for `s`, quotes included (exposed for tests).
void append_json_string(std::string& out, std::string_view s);

}  // namespace parley
