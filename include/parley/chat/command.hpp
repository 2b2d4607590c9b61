// The commands a client can give, as the chat core takes them: typed and
// already validated (names well formed, texts within the limits). Decoding
// lines into these is the protocol layer's part (protocol/request.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "parley/chat/errors.hpp"

namespace parley {

struct Hello {
  std::string nick;
  std::optional<std::string> token;
  std::optional<std::string> resume;  // a `session` from an earlier welcome
};
struct NickCmd { std::string nick; };
struct Join { std::string channel; };
struct Part { std::string channel; std::optional<std::string> reason; };
struct Say { std::string channel; std::string text; };
struct Msg { std::string to; std::string text; };
struct TopicCmd { std::string channel; std::optional<std::string> topic; };
struct List {};
struct Members { std::string channel; };
struct History {
  std::string channel;
  std::optional<std::uint64_t> before;
  std::optional<std::uint64_t> after;
  unsigned limit = 50;
};
struct Ping {};
struct Quit { std::optional<std::string> reason; };

using Command = std::variant<Hello, NickCmd, Join, Part, Say, Msg, TopicCmd, List,
                             Members, History, Ping, Quit>;

// Which command a line named, known even when its fields were invalid, so the
// core can answer `not_registered` ahead of field errors.
enum class CommandKind { unknown, hello, nick, join, part, say, msg, topic, list,
                         members, history, ping, quit };
inline constexpr std::size_t command_kind_count = static_cast<std::size_t>(CommandKind::quit) + 1;

// The command's name on the wire ("unknown" for lines that named none).
std::string_view command_name(CommandKind kind);

// One request as the core sees it: the command, or why it could not be read.
// Every request, even an unreadable one, takes a token of the rate limit.
struct ChatRequest {
  CommandKind kind = CommandKind::unknown;
  std::variant<Command, Error> body;
};

}  // namespace parley
