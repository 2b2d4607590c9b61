#include "parley/client/marks.hpp"

#include <cctype>

#include "parley/client/fields.hpp"

namespace parley::client {
namespace {

// Channels compare ASCII-case-insensitively.
std::string key(const std::string& channel) {
  std::string k = channel;
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

}  // namespace

void Marks::joined(const nlohmann::json& reply) {
  set(field_text(reply, "channel"), {as_seq(field(reply, "seq")), field_text(reply, "epoch")});
}

void Marks::left(const std::string& channel) { marks_.erase(key(channel)); }

bool Marks::saw(const std::string& channel, const nlohmann::json& seq) {
  const auto it = marks_.find(key(channel));
  if (it == marks_.end() || !is_seq(seq)) return true;
  const std::uint64_t n = as_seq(seq);
  if (n <= it->second.seq) return false;
  it->second.seq = n;
  return true;
}

void Marks::set(const std::string& channel, Mark mark) { marks_[key(channel)] = std::move(mark); }

const Mark* Marks::find(const std::string& channel) const {
  const auto it = marks_.find(key(channel));
  return it == marks_.end() ? nullptr : &it->second;
}

}  // namespace parley::client
