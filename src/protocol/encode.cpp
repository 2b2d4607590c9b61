#include "parley/protocol/encode.hpp"

#include <charconv>
#include <concepts>

namespace parley {
namespace {

// Writes exactly what nlohmann's dump(-1, ' ', false, replace) writes, faster:
// every event and reply passes through here, and the library's serializer
// runs each byte of each string through a UTF-8 decoder. Strings that are
// plain ASCII (names, codes and most texts) are escaped with a table and
// copied in runs; anything else, and any value kind this does not know,
// goes to the library, so the output stays byte-identical.
constexpr char hex[] = "0123456789abcdef";

bool plain_ascii(std::string_view s) {
  unsigned char any_high = 0;
  for (unsigned char c : s) any_high |= c;
  return (any_high & 0x80) == 0;
}

void append_ascii_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xf]);
    }
  }
  out.append(s.substr(run));
  out.push_back('"');
}

void append_string(std::string& out, std::string_view s) {
  if (plain_ascii(s))
    append_ascii_string(out, s);
  else
    out += Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void append_json(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first) out.push_back(',');
        first = false;
        if (plain_ascii(key)) append_ascii_string(out, key);
        else out += Json(key).dump(-1, ' ', false, Json::error_handler_t::replace);
        out.push_back(':');
        append_json(out, member);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& element : value) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, element);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (plain_ascii(s)) return append_ascii_string(out, s);
      break;
    }
    case Json::value_t::number_integer: return append_integer(out, value.get<std::int64_t>());
    case Json::value_t::number_unsigned: return append_integer(out, value.get<std::uint64_t>());
    case Json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case Json::value_t::null: out += "null"; return;
    default: break;
  }
  out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// `,"key":value`, with `prefix` the punctuation and key, already escaped.
void append_field(std::string& out, std::string_view prefix, std::string_view value) {
  out += prefix;
  append_string(out, value);
}

template <std::integral Integer>
void append_field(std::string& out, std::string_view prefix, Integer value) {
  out += prefix;
  append_integer(out, value);
}

void append_id(std::string& out, const RequestId& id) {
  switch (id.kind) {
    case RequestId::Kind::none: return;
    case RequestId::Kind::string: return append_field(out, ",\"id\":", id.text);
    case RequestId::Kind::integer: return append_field(out, ",\"id\":", id.integer);
    case RequestId::Kind::unsigned_integer: return append_field(out, ",\"id\":", id.unsigned_integer);
  }
}

}  // namespace

void append_line(std::string& out, const ChatMessage& m) {
  out += "{\"event\":\"message\"";
  if (!m.channel.empty()) append_field(out, ",\"channel\":", m.channel);
  append_field(out, ",\"from\":", m.from);
  if (!m.to.empty()) append_field(out, ",\"to\":", m.to);
  append_field(out, ",\"text\":", m.text);
  if (!m.channel.empty()) append_field(out, ",\"seq\":", m.seq);
  append_field(out, ",\"ts\":", m.ts);
  out += "}\n";
}

void append_line(std::string& out, const ChatAck& a) {
  out += "{\"ok\":true";
  append_id(out, a.id);
  if (!a.channel.empty()) append_field(out, ",\"channel\":", a.channel);
  if (!a.to.empty()) append_field(out, ",\"to\":", a.to);
  if (!a.channel.empty()) append_field(out, ",\"seq\":", a.seq);
  append_field(out, ",\"ts\":", a.ts);
  out += "}\n";
}

Bytes encode_line(const ChatAck& ack) {
  std::string text;
  text.reserve(64 + ack.channel.size() + ack.to.size() + ack.id.text.size());
  append_line(text, ack);
  return std::make_shared<const std::string>(std::move(text));
}

Bytes encode_line(const Json& message) {
  std::string text;
  append_line(text, message);
  return std::make_shared<const std::string>(std::move(text));
}

void append_line(std::string& out, const Json& message) {
  append_json(out, message);
  out.push_back('\n');
}

Bytes encode_fatal(ErrorCode code, std::string_view message) {
  Json e = Json::object();
  e["event"] = "error";
  e["code"] = to_string(code);
  e["message"] = message;
  return encode_line(e);
}

Bytes encode_ping() {
  static const Bytes ping = encode_line(Json{{"event", "ping"}});
  return ping;
}

Bytes encode_shutdown(std::string_view reason, long long retry_ms) {
  Json e = Json::object();
  e["event"] = "shutdown";
  e["reason"] = reason;
  e["retry_ms"] = retry_ms;
  return encode_line(e);
}

}  // namespace parley
