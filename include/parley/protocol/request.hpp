// The protocol layer's input side: one line of JSON in, one typed request out.
//
// nlohmann_json is confined to `parse_request`, which never throws: every
// malformed line becomes an Error carrying the contract's code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "parley/chat/errors.hpp"
#include "parley/chat/limits.hpp"

namespace parley {

// The request's `id`, echoed unchanged: absent, a string, or an integer.
struct RequestId {
  enum class Kind { none, string, integer, unsigned_integer } kind = Kind::none;
  std::string text;
  std::int64_t integer = 0;
  std::uint64_t unsigned_integer = 0;
};

struct Hello { std::string nick; std::optional<std::string> token; };
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

struct Request {
  RequestId id;
  CommandKind kind = CommandKind::unknown;
  std::variant<Command, Error> body;
};

inline constexpr unsigned history_limit_max = 500;
inline constexpr unsigned history_limit_default = 50;
inline constexpr std::size_t max_id_bytes = 64;

Request parse_request(std::string_view line, const Limits& limits);

}  // namespace parley
