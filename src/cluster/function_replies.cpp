#include "parley/cluster/function_replies.hpp"

#include <algorithm>
#include <cstdlib>

#include "parley/chat/names.hpp"

namespace parley::cluster {
namespace {

// The seq of a history stream entry's id ("SEQ-0").
std::uint64_t entry_seq(const RedisReply& entry) {
  const std::string& id = entry.at(0).str;
  std::uint64_t seq = 0;
  for (char c : id) {
    if (c < '0' || c > '9') break;
    seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return seq;
}

}  // namespace

std::uint64_t unsigned_of(const RedisReply& r) {
  const std::optional<std::int64_t> v = r.as_integer();
  return v && *v > 0 ? static_cast<std::uint64_t>(*v) : 0;
}

std::optional<std::string> optional_text(const RedisReply& r) {
  if (r.is_nil()) return std::nullopt;
  return r.str;
}

std::string_view member_nick(std::string_view entry) {
  const std::size_t space = entry.find(' ');
  return space == std::string_view::npos ? entry : entry.substr(space + 1);
}

std::vector<std::string> sorted_nicks(const RedisReply& entries) {
  std::vector<std::string> nicks;
  nicks.reserve(entries.elements.size());
  for (const RedisReply& e : entries.elements) nicks.emplace_back(member_nick(e.str));
  std::sort(nicks.begin(), nicks.end(), [](const std::string& a, const std::string& b) { return fold(a) < fold(b); });
  return nicks;
}

const std::string& entry_field(const RedisReply& entry, std::string_view name) {
  static const std::string none;
  const RedisReply& fields = entry.at(1);
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
    if (fields.elements[i].str == name) return fields.elements[i + 1].str;
  return none;
}

LoggedMessage logged(const RedisReply& entry) {
  return {entry_seq(entry), std::strtoll(entry_field(entry, "ts").c_str(), nullptr, 10), entry_field(entry, "f"),
          entry_field(entry, "t")};
}

}  // namespace parley::cluster
