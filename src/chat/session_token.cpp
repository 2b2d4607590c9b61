#include "parley/chat/session_token.hpp"

#include <random>

namespace parley {
namespace {

constexpr char digits[] = "0123456789abcdef";

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

SessionToken new_session_token() {
  std::random_device random;
  const auto word = [&random] { return (std::uint64_t{random()} << 32) | random(); };
  SessionToken token;
  token.high = word();
  token.low = word();
  return token;
}

std::string to_text(const SessionToken& token) {
  std::string text(32, '0');
  for (int i = 0; i < 16; ++i) {
    text[15 - i] = digits[(token.high >> (4 * i)) & 0xf];
    text[31 - i] = digits[(token.low >> (4 * i)) & 0xf];
  }
  return text;
}

std::optional<SessionToken> parse_session_token(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  SessionToken token;
  for (std::size_t i = 0; i < 32; ++i) {
    const int value = digit_value(text[i]);
    if (value < 0) return std::nullopt;
    std::uint64_t& word = i < 16 ? token.high : token.low;
    word = (word << 4) | static_cast<std::uint64_t>(value);
  }
  return token;
}

}  // namespace parley
