#include "parley/cluster/bus_message.hpp"

#include <charconv>

namespace parley::cluster {
namespace {

// Splits off the text up to `sep` (or all of it); `rest` keeps what follows.
std::string_view take(std::string_view& rest, char sep) {
  const std::size_t at = rest.find(sep);
  std::string_view word = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view() : rest.substr(at + 1);
  return word;
}

bool number(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

BusMessage parse_bus_message(std::string_view payload) {
  BusMessage m;
  const std::size_t eol = payload.find('\n');
  std::string_view header = payload.substr(0, eol);
  const std::string_view line = eol == std::string_view::npos ? std::string_view() : payload.substr(eol + 1);
  const std::string_view kind = take(header, ' ');
  if (kind.size() != 1) return m;
  const bool has_line = !line.empty() && line.back() == '\n';
  switch (kind[0]) {
    case 'm':
      if (!number(take(header, ' '), m.seq) || header.empty() || !has_line) return m;
      m.owner = header;
      m.kind = BusMessage::Kind::message;
      break;
    case 'e':
      if (header.empty() || !has_line) return m;
      m.owner = header;
      m.kind = BusMessage::Kind::event;
      break;
    case 'u':
      m.owner = take(header, ' ');
      if (m.owner.empty() || header.empty() || !has_line) return m;
      m.keys = header;
      m.kind = BusMessage::Kind::users;
      break;
    case 'd':
      if (!number(header, m.conn) || !has_line) return m;
      m.kind = BusMessage::Kind::direct;
      break;
    case 'r':
      if (!number(header, m.conn)) return m;
      m.kind = BusMessage::Kind::replaced;
      return m;
    default:
      return m;
  }
  m.line = line;
  return m;
}

std::uint64_t local_conn(std::string_view owner, std::string_view node) {
  owner = owner.substr(0, owner.find(' '));
  const std::size_t slash = owner.rfind('/');
  if (slash == std::string_view::npos || owner.substr(0, slash) != node) return 0;
  std::uint64_t conn = 0;
  return number(owner.substr(slash + 1), conn) ? conn : 0;
}

}  // namespace parley::cluster

namespace parley::cluster {

std::optional<std::uint64_t> owner_tag(std::string_view owner) {
  const std::size_t space = owner.find(' ');
  std::uint64_t tag = 0;
  if (space == std::string_view::npos || !number(owner.substr(space + 1), tag)) return std::nullopt;
  return tag;
}

}  // namespace parley::cluster
