#include "parley/chat/names.hpp"

namespace parley {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_nick_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-'; }
bool is_channel_char(char c) { return is_nick_char(c) || c == '.' || c == '#'; }

}  // namespace

bool is_valid_nick(std::string_view nick) {
  if (nick.empty() || nick.size() > max_nick_length) return false;
  if (is_digit(nick.front()) || nick.front() == '-') return false;
  for (char c : nick)
    if (!is_nick_char(c)) return false;
  return true;
}

bool is_valid_channel(std::string_view channel) {
  if (channel.empty() || channel.size() > max_channel_length) return false;
  for (char c : channel)
    if (!is_channel_char(c)) return false;
  return true;
}

std::string fold(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool names_match(std::string_view name, std::string_view key) {
  if (name.size() != key.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != key[i]) return false;
  }
  return true;
}

}  // namespace parley
