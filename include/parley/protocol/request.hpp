// The protocol layer's input side: one line of JSON in, one typed request out.
//
// nlohmann_json is confined to `parse_request`, which never throws: every
// malformed line becomes an Error carrying the contract's code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/chat/command.hpp"
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

// A decoded line: the chat request plus the `id` its reply echoes. The core
// takes the ChatRequest part (by value, so the text moves on into its event);
// the id stays with the hub, which writes it into the reply.
struct Request : ChatRequest {
  RequestId id;
};

inline constexpr unsigned history_limit_max = 500;
inline constexpr unsigned history_limit_default = 50;
inline constexpr std::size_t max_id_bytes = 64;

Request parse_request(std::string_view line, const Limits& limits);

}  // namespace parley
