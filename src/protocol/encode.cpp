#include "parley/protocol/encode.hpp"

#include <charconv>
#include <concepts>
#include <type_traits>

namespace parley {
namespace {

constexpr char hex[] = "0123456789abcdef";
constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default:
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
  }
}

bool in(unsigned char c, unsigned char low, unsigned char high) { return c >= low && c <= high; }

// The well-formed UTF-8 sequence starting at s[i] (Unicode's table 3-7).
// Returns its length, or 0 with `skip` set to the bytes to replace: a bad
// lead byte alone, or the lead and the continuation bytes that fit before
// the one that does not (which is then read again as a lead), or what is
// left of the string when it ends inside a sequence. That is exactly what
// nlohmann_json's dump(replace) replaces, so the bytes stay the same as the
// library's in every case.
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t& skip) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (in(lead, 0xC2, 0xDF)) length = 2;
  else if (lead == 0xE0) length = 3, low = 0xA0;
  else if (in(lead, 0xE1, 0xEC) || in(lead, 0xEE, 0xEF)) length = 3;
  else if (lead == 0xED) length = 3, high = 0x9F;
  else if (lead == 0xF0) length = 4, low = 0x90;
  else if (in(lead, 0xF1, 0xF3)) length = 4;
  else if (lead == 0xF4) length = 4, high = 0x8F;
  if (length == 0) {
    skip = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (i + k >= s.size()) {
      skip = s.size() - i;
      return 0;
    }
    const auto c = static_cast<unsigned char>(s[i + k]);
    if (!(k == 1 ? in(c, low, high) : in(c, 0x80, 0xBF))) {
      skip = k;
      return 0;
    }
  }
  return length;
}

template <std::integral Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

// `,"key":value`, with `prefix` the punctuation and the key, already escaped.
void field(std::string& out, std::string_view prefix, std::string_view value) {
  out += prefix;
  append_json_string(out, value);
}

template <std::integral Integer>
void field(std::string& out, std::string_view prefix, Integer value) {
  out += prefix;
  append_integer(out, value);
}

void field(std::string& out, std::string_view prefix, bool value) {
  out += prefix;
  out += value ? "true" : "false";
}

// A string, or null when absent (topics).
void nullable_field(std::string& out, std::string_view prefix, const std::optional<std::string>& value) {
  out += prefix;
  if (value)
    append_json_string(out, *value);
  else
    out += "null";
}

void array_field(std::string& out, std::string_view prefix, const std::vector<std::string>& values) {
  out += prefix;
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, values[i]);
  }
  out.push_back(']');
}

void append_id(std::string& out, const RequestId& id) {
  switch (id.kind) {
    case RequestId::Kind::none: return;
    case RequestId::Kind::string: return field(out, ",\"id\":", id.text);
    case RequestId::Kind::integer: return field(out, ",\"id\":", id.integer);
    case RequestId::Kind::unsigned_integer: return field(out, ",\"id\":", id.unsigned_integer);
  }
}

// ---- one writer per reply type: each writes the fields after "ok" and "id"

void write(std::string&, const OkReply&) {}

void write(std::string& out, const Welcome& w) {
  field(out, ",\"nick\":", w.nick);
  field(out, ",\"server\":{\"name\":", w.server_name);
  field(out, ",\"version\":", w.server_version);
  field(out, ",\"protocol\":", w.protocol);
  field(out, ",\"node\":", w.node);
  array_field(out, ",\"features\":", w.features);
  field(out, "},\"limits\":{\"max_line\":", w.max_line);
  field(out, ",\"max_text\":", w.max_text);
  field(out, ",\"max_channels\":", w.max_channels);
  field(out, "},\"session\":", w.session);
  field(out, ",\"resumed\":", w.resumed);
  if (!w.resumed) return;
  out += ",\"channels\":[";
  for (std::size_t i = 0; i < w.channels.size(); ++i) {
    field(out, i ? ",{\"channel\":" : "{\"channel\":", w.channels[i].channel);
    field(out, ",\"seq\":", w.channels[i].seq);
    field(out, ",\"epoch\":", w.channels[i].epoch);
    out.push_back('}');
  }
  out.push_back(']');
}

void write(std::string& out, const NickReply& r) { field(out, ",\"nick\":", r.nick); }

void write(std::string& out, const JoinReply& r) {
  field(out, ",\"channel\":", r.channel);
  nullable_field(out, ",\"topic\":", r.topic);
  array_field(out, ",\"members\":", r.members);
  field(out, ",\"seq\":", r.seq);
  field(out, ",\"epoch\":", r.epoch);
}

void write(std::string& out, const PartReply& r) { field(out, ",\"channel\":", r.channel); }

void write(std::string& out, const ChatAck& a) {
  if (!a.channel.empty()) field(out, ",\"channel\":", a.channel);
  if (!a.to.empty()) field(out, ",\"to\":", a.to);
  if (!a.channel.empty()) field(out, ",\"seq\":", a.seq);
  field(out, ",\"ts\":", a.ts);
}

void write(std::string& out, const TopicReply& r) {
  field(out, ",\"channel\":", r.channel);
  nullable_field(out, ",\"topic\":", r.topic);
}

void write(std::string& out, const ListReply& r) {
  out += ",\"channels\":[";
  for (std::size_t i = 0; i < r.channels.size(); ++i) {
    const ChannelSummary& c = r.channels[i];
    field(out, i ? ",{\"channel\":" : "{\"channel\":", c.channel);
    field(out, ",\"members\":", c.members);
    nullable_field(out, ",\"topic\":", c.topic);
    out.push_back('}');
  }
  out.push_back(']');
}

void write(std::string& out, const MembersReply& r) {
  field(out, ",\"channel\":", r.channel);
  array_field(out, ",\"members\":", r.members);
}

void write(std::string& out, const HistoryReply& r) {
  field(out, ",\"channel\":", r.channel);
  field(out, ",\"epoch\":", r.epoch);
  out += ",\"messages\":[";
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    const LoggedMessage& m = r.messages[i];
    field(out, i ? ",{\"seq\":" : "{\"seq\":", m.seq);
    field(out, ",\"ts\":", m.ts);
    field(out, ",\"from\":", m.from);
    field(out, ",\"text\":", m.text);
    out.push_back('}');
  }
  out.push_back(']');
  field(out, ",\"truncated\":", r.truncated);
}

// ---- one writer per event type

void write(std::string& out, const Joined& e) {
  out += "{\"event\":\"join\"";
  field(out, ",\"channel\":", e.channel);
  field(out, ",\"nick\":", e.nick);
}

void write(std::string& out, const Parted& e) {
  out += "{\"event\":\"part\"";
  field(out, ",\"channel\":", e.channel);
  field(out, ",\"nick\":", e.nick);
  if (e.reason) field(out, ",\"reason\":", *e.reason);
}

void write(std::string& out, const ChatMessage& m) {
  out += "{\"event\":\"message\"";
  if (!m.channel.empty()) field(out, ",\"channel\":", m.channel);
  field(out, ",\"from\":", m.from);
  if (!m.to.empty()) field(out, ",\"to\":", m.to);
  field(out, ",\"text\":", m.text);
  if (!m.channel.empty()) field(out, ",\"seq\":", m.seq);
  field(out, ",\"ts\":", m.ts);
}

void write(std::string& out, const TopicSet& e) {
  out += "{\"event\":\"topic\"";
  field(out, ",\"channel\":", e.channel);
  field(out, ",\"nick\":", e.nick);
  nullable_field(out, ",\"topic\":", e.topic);
}

void write(std::string& out, const NickChanged& e) {
  out += "{\"event\":\"nick\"";
  field(out, ",\"old\":", e.old_nick);
  field(out, ",\"new\":", e.new_nick);
}

void write(std::string& out, const UserQuit& e) {
  out += "{\"event\":\"quit\"";
  field(out, ",\"nick\":", e.nick);
  field(out, ",\"reason\":", e.reason);
}

Bytes share(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      std::size_t skip = 0;
      if (const std::size_t length = sequence_length(s, i, skip)) {
        i += length;
        continue;
      }
      out.append(s.substr(run, i - run));
      out += replacement;
      i += skip;
      run = i;
      continue;
    }
    out.append(s.substr(run, i - run));
    append_escape(out, c);
    run = ++i;
  }
  out.append(s.substr(run));
  out.push_back('"');
}

void append_reply(std::string& out, const RequestId& id, const Reply& reply) {
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    out += "{\"ok\":false";
    append_id(out, id);
    field(out, ",\"error\":{\"code\":", to_string(error->code));
    field(out, ",\"message\":", error->message);
    if (error->retry_ms) field(out, ",\"retry_ms\":", *error->retry_ms);
    out += "}}\n";
    return;
  }
  out += "{\"ok\":true";
  append_id(out, id);
  std::visit([&out](const auto& r) {
    if constexpr (!std::is_same_v<std::decay_t<decltype(r)>, ErrorReply>) write(out, r);
  }, reply);
  out += "}\n";
}

Bytes encode_reply(const RequestId& id, const Reply& reply) {
  std::string text;
  text.reserve(64 + id.text.size());
  append_reply(text, id, reply);
  return share(std::move(text));
}

void append_event(std::string& out, const Event& event) {
  std::visit([&out](const auto& e) { write(out, e); }, event);
  out += "}\n";
}

Bytes encode_event(const Event& event) {
  std::string text;
  append_event(text, event);
  return share(std::move(text));
}

namespace {

// A name no valid name can be: its escaped form is found in the line, and
// only the first time, since the hole comes before every free text field.
constexpr std::string_view hole_marker = "\x01";
constexpr std::string_view hole_written = "\"\\u0001\"";
constexpr std::string_view seq_written = ",\"seq\":0,";

Event with_hole(Event event) {
  std::visit(
      [](auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, ChatMessage>) {
          (e.channel.empty() ? e.to : e.channel) = hole_marker;
          e.seq = 0;
        } else if constexpr (std::is_same_v<E, UserQuit>) {
          e.nick = hole_marker;
        } else if constexpr (std::is_same_v<E, Joined> || std::is_same_v<E, Parted> || std::is_same_v<E, TopicSet>) {
          e.channel = hole_marker;
        }
      },
      event);
  return event;
}

}  // namespace

EventTemplate event_template(const Event& event) {
  std::string line;
  append_event(line, with_hole(event));
  EventTemplate t;
  const std::size_t hole = line.find(hole_written);
  if (hole == std::string::npos) return {line, {}, {}};  // NickChanged: no hole
  t.head = line.substr(0, hole);
  std::string rest = line.substr(hole + hole_written.size());
  const auto* m = std::get_if<ChatMessage>(&event);
  const std::size_t seq = m && !m->channel.empty() ? rest.find(seq_written) : std::string::npos;
  if (seq == std::string::npos) {
    t.middle = std::move(rest);
    return t;
  }
  const std::size_t digits = seq + seq_written.size() - 2;  // the 0 and the comma after it
  t.middle = rest.substr(0, digits);
  t.tail = rest.substr(digits + 1);
  return t;
}

std::string EventTemplate::fill(std::string_view name, std::uint64_t seq) const {
  std::string line = head;
  line += '"';
  line += name;
  line += '"';
  line += middle;
  if (!tail.empty()) {
    append_integer(line, seq);
    line += tail;
  }
  return line;
}

Bytes encode_gap(std::string_view channel, std::uint64_t from, std::uint64_t to) {
  std::string text = "{\"event\":\"gap\"";
  field(text, ",\"channel\":", channel);
  field(text, ",\"from\":", from);
  field(text, ",\"to\":", to);
  text += "}\n";
  return share(std::move(text));
}

Bytes encode_fatal(ErrorCode code, std::string_view message) {
  std::string text = "{\"event\":\"error\"";
  field(text, ",\"code\":", to_string(code));
  field(text, ",\"message\":", message);
  text += "}\n";
  return share(std::move(text));
}

Bytes encode_ping() {
  static const Bytes ping = share("{\"event\":\"ping\"}\n");
  return ping;
}

Bytes encode_shutdown(std::string_view reason, std::uint64_t retry_ms) {
  std::string text = "{\"event\":\"shutdown\"";
  field(text, ",\"reason\":", reason);
  field(text, ",\"retry_ms\":", retry_ms);
  text += "}\n";
  return share(std::move(text));
}

}  // namespace parley
