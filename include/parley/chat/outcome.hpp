// What the chat core answers: a typed reply for the sender and typed events
// for their recipients. No JSON here: the protocol layer has one writer per
// type (protocol/encode.hpp) and writes each event once, however many
// recipients share its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parley/chat/errors.hpp"
#include "parley/chat/message_log.hpp"

namespace parley {

using ConnId = std::uint64_t;
using ConnList = std::shared_ptr<const std::vector<ConnId>>;

// Who gets an event: `list` without `except`. A channel's member list is
// built once and shared by every event to that channel until its membership
// changes, so a `say` to 2000 members copies no list; `except` is the sender.
struct Recipients {
  ConnList list;
  ConnId except = 0;  // 0 skips nobody: connection ids start at 1

  std::vector<ConnId> ids() const;  // the recipients, in list order
  bool empty() const { return !list || list->empty() || (list->size() == 1 && list->front() == except); }
  // The same people for sure (same list object, or equal short lists).
  bool same_as(const Recipients& other) const;
};

// ---- replies: exactly one per request ------------------------------------

// `ok` with nothing more: ping, quit.
struct OkReply {};

struct ErrorReply {
  ErrorCode code;
  std::string message;
  std::optional<std::uint64_t> retry_ms;  // rate_limited: when to try again
};

// A channel a resumed session is in, with where its sequence stands.
struct ResumedChannel {
  std::string channel;
  std::uint64_t seq = 0;
  std::string epoch;
};

// The answer to `hello`.
struct Welcome {
  std::string nick;
  std::string server_name;
  std::string server_version;
  unsigned protocol = 1;
  std::string node;                   // which server answered
  std::vector<std::string> features;  // "resume", "cluster", "websocket"
  std::size_t max_line = 0;
  std::size_t max_text = 0;
  std::size_t max_channels = 0;
  std::string session;                // the token a later `hello` resumes with
  bool resumed = false;
  std::vector<ResumedChannel> channels;  // when resumed: sorted by folded name
};

struct NickReply { std::string nick; };

struct JoinReply {
  std::string channel;
  std::optional<std::string> topic;
  std::vector<std::string> members;  // sorted by folded nick
  std::uint64_t seq = 0;
  std::string epoch;
};

struct PartReply { std::string channel; };

// The `ok` answering a `say` (channel and seq) or a `msg` (to).
struct ChatAck {
  std::string channel;    // `say`; empty for `msg`
  std::string to;         // `msg`; empty for `say`
  std::uint64_t seq = 0;  // `say` only
  std::int64_t ts = 0;
};

struct TopicReply {
  std::string channel;
  std::optional<std::string> topic;
};

struct ChannelSummary {
  std::string channel;
  std::size_t members = 0;
  std::optional<std::string> topic;
};

struct ListReply { std::vector<ChannelSummary> channels; };  // sorted by folded name

struct MembersReply {
  std::string channel;
  std::vector<std::string> members;
};

struct HistoryReply {
  std::string channel;
  std::string epoch;
  std::vector<LoggedMessage> messages;  // oldest first; copies, so the reply outlives the ring
  bool truncated = false;
};

using Reply = std::variant<OkReply, ErrorReply, Welcome, NickReply, JoinReply, PartReply, ChatAck,
                           TopicReply, ListReply, MembersReply, HistoryReply>;

// ---- events ----------------------------------------------------------------

struct Joined { std::string channel; std::string nick; };

struct Parted {
  std::string channel;
  std::string nick;
  std::optional<std::string> reason;
};

// A `message`: to a channel (`say`) or to one user (`msg`).
struct ChatMessage {
  std::string channel;    // `say`; empty for `msg`
  std::string from;
  std::string to;         // `msg`; empty for `say`
  std::string text;
  std::uint64_t seq = 0;  // `say` only
  std::int64_t ts = 0;
};

struct TopicSet {
  std::string channel;
  std::string nick;
  std::optional<std::string> topic;  // nullopt: cleared
};

struct NickChanged { std::string old_nick; std::string new_nick; };

struct UserQuit { std::string nick; std::string reason; };

using Event = std::variant<Joined, Parted, ChatMessage, TopicSet, NickChanged, UserQuit>;

struct Delivery {
  Recipients to;
  Event event;
};

struct Outcome {
  Reply reply = OkReply{};
  std::vector<Delivery> deliveries;  // in the order they must be queued
  bool close = false;                // `quit`: flush the reply, then close
  std::optional<Error> fatal;        // after the reply: this `error` event, then close
  // A resume took this connection's session over: it gets the fatal
  // `replaced` and closes, and its close causes no `quit`.
  std::optional<ConnId> replaced;

  // The reply reports a failure (ErrorReply).
  bool failed() const { return std::holds_alternative<ErrorReply>(reply); }
};

}  // namespace parley
