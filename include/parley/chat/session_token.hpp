// A session's resume token: 128 random bits, kept as two words (no heap,
// 16 bytes a user) and shown to its client as 32 hex digits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

struct SessionToken {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  bool operator==(const SessionToken&) const = default;
};

// The bits are random already: one word's mix spreads them over the buckets.
struct SessionTokenHash {
  std::size_t operator()(const SessionToken& t) const { return static_cast<std::size_t>(t.low ^ (t.high >> 1)); }
};

// 128 bits from the system's random source (std::random_device). Secret to
// its client: whoever holds it can take the session over.
SessionToken new_session_token();
// 32 lowercase hex digits.
std::string to_text(const SessionToken& token);
// The token `text` spells; nullopt for anything but 32 hex digits (any case).
std::optional<SessionToken> parse_session_token(std::string_view text);

}  // namespace parley
