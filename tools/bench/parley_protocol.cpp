// Parley's newline-framed JSON. Requests are built by hand: the loader only
// sends names and texts it made itself (plain ASCII, nothing to escape).
// Replies and events are classified by the prefix the server always writes
// (`{"ok":true`, `{"event":"message"`), so a delivery costs one memchr for
// the line end and one search for the text field, never a JSON parse.
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "protocol.hpp"

namespace parley::bench {
namespace {

constexpr std::string_view pong_reply = R"({"ok":true,"id":"pong"})";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::size_t find(std::string_view haystack, std::string_view needle) {
  const void* at = memmem(haystack.data(), haystack.size(), needle.data(), needle.size());
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - haystack.data()) : std::string_view::npos;
}

// Where the string starting at `begin` ends: its first unescaped quote.
std::size_t string_end(std::string_view line, std::size_t begin) {
  for (std::size_t at = begin; at < line.size();) {
    const void* quote = std::memchr(line.data() + at, '"', line.size() - at);
    if (!quote) break;
    const auto end = static_cast<std::size_t>(static_cast<const char*>(quote) - line.data());
    std::size_t backslashes = 0;
    while (end - backslashes > begin && line[end - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return end;
    at = end + 1;
  }
  return line.size();
}

// The value of the string field at `key` (e.g. `"code":"`), escapes left as sent.
std::string_view string_field(std::string_view line, std::string_view key) {
  const auto at = find(line, key);
  if (at == std::string_view::npos) return {};
  const std::size_t begin = at + key.size();
  return line.substr(begin, string_end(line, begin) - begin);
}

constexpr std::string_view message_prefix = R"({"event":"message",)";

std::size_t fallback_text_start(std::string_view line) {
  constexpr std::string_view text_key = R"("text":")";
  const auto at = find(line, text_key);
  return at == std::string_view::npos ? line.size() : at + text_key.size();
}

std::uint64_t digits(std::string_view text) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
  return value;
}

// Where the text's value starts. The server writes a message's fields in a
// fixed order (event, channel, from, to, text, seq, ts) and the fields
// before the text hold names, which never contain quotes or backslashes: so
// hop from quote to quote instead of searching the line. Anything unexpected
// falls back to a search.
std::size_t text_start(std::string_view line) {
  constexpr std::string_view text_key = R"("text":")";
  std::size_t at = message_prefix.size();
  for (int field = 0; field < 4 && at < line.size(); ++field) {
    if (line.compare(at, text_key.size(), text_key) == 0) return at + text_key.size();
    // "key":"value", -> skip the key's two quotes, then the value's two.
    // Names are short: a plain loop beats a memchr call per quote.
    std::size_t quote = at;
    for (int q = 0; q < 4; ++q) {
      while (quote < line.size() && line[quote] != '"') ++quote;
      if (quote == line.size()) return fallback_text_start(line);
      if (q < 3) ++quote;
    }
    at = quote + 2;  // past the closing quote and the comma
  }
  return fallback_text_start(line);
}

// `seq` normally comes right after the text; otherwise it is searched for
// after the text, so a text containing `"seq":` cannot fool the search.
void parse_message(std::string_view line, Frame& frame) {
  constexpr std::string_view seq_key = R"(,"seq":)";
  frame.kind = FrameKind::delivery;
  const std::size_t begin = std::min(text_start(line), line.size());
  const std::size_t end = string_end(line, begin);
  frame.payload = line.substr(begin, end - begin);
  std::string_view rest = line.substr(std::min(end + 1, line.size()));
  if (rest.substr(0, seq_key.size()) != seq_key) {
    const auto at = find(rest, seq_key);
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at);
  }
  frame.seq = rest.empty() ? 0 : digits(rest.substr(seq_key.size()));
}

class ParleyProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "parley"; }

  void greet(std::string& out, std::string_view nick) const override {
    append(out, R"({"cmd":"hello","nick":")", nick, "\"}\n");
  }
  void subscribe(std::string& out, std::string_view channel) const override {
    append(out, R"({"cmd":"join","channel":")", channel, "\"}\n");
  }
  void publish(std::string& out, std::string_view channel, std::string_view text) const override {
    append(out, R"({"cmd":"say","channel":")", channel, R"(","text":")");
    append(out, text, "\"}\n", "");
  }
  void direct(std::string& out, std::string_view nick, std::string_view text) const override {
    append(out, R"({"cmd":"msg","to":")", nick, R"(","text":")");
    append(out, text, "\"}\n", "");
  }
  void ping(std::string& out) const override { out += "{\"cmd\":\"ping\"}\n"; }
  void pong(std::string& out) const override { out += "{\"cmd\":\"ping\",\"id\":\"pong\"}\n"; }
  bool goodbye(std::string& out) const override {
    out += "{\"cmd\":\"quit\"}\n";
    return true;
  }
  std::string inbox_subscription(std::string_view) const override { return {}; }
  bool echoes_to_sender() const override { return false; }

  bool resumes() const override { return true; }
  // The token is the server's opaque string: written as JSON, escapes and all.
  void resume(std::string& out, std::string_view nick, std::string_view session) const override {
    append(out, R"({"cmd":"hello","nick":")", nick, R"(","resume":)");
    append(out, nlohmann::json(std::string(session)).dump(), "}\n", "");
  }
  void history_after(std::string& out, std::string_view channel, std::uint64_t after, int limit) const override {
    append(out, R"({"cmd":"history","channel":")", channel, R"(","after":)");
    append(out, std::to_string(after), R"(,"limit":)", std::to_string(limit));
    out += "}\n";
  }

  std::size_t next(std::string_view in, Frame& frame) const override {
    const void* nl = std::memchr(in.data(), '\n', in.size());
    if (!nl) return 0;
    const std::size_t consumed = static_cast<std::size_t>(static_cast<const char*>(nl) - in.data()) + 1;
    std::string_view line = in.substr(0, consumed - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    classify(line, frame);
    return consumed;
  }

  void classify(std::string_view line, Frame& frame) const override {
    classify_line(line, frame);
    frame.line = line;
  }

 private:
  static void append(std::string& out, std::string_view a, std::string_view b, std::string_view c) {
    out.append(a).append(b).append(c);
  }

  static void classify_line(std::string_view line, Frame& frame) {
    frame = Frame{};
    if (starts_with(line, message_prefix)) return parse_message(line, frame);
    if (starts_with(line, R"({"ok":true)")) {
      frame.kind = line == pong_reply ? FrameKind::ignored : FrameKind::ack;
      return;
    }
    if (starts_with(line, R"({"ok":false)")) {
      frame.kind = FrameKind::error_ack;
      frame.detail = string_field(line, R"("code":")");
      return;
    }
    if (starts_with(line, R"({"event":"ping")")) {
      frame.kind = FrameKind::server_ping;
      return;
    }
    if (starts_with(line, R"({"event":"error")")) {
      frame.kind = FrameKind::fatal;
      frame.detail = string_field(line, R"("code":")");
      return;
    }
    if (starts_with(line, R"({"event":"shutdown")")) {
      frame.kind = FrameKind::shutdown;
      constexpr std::string_view retry_key = R"("retry_ms":)";
      if (const auto at = find(line, retry_key); at != std::string_view::npos)
        frame.retry_ms = digits(line.substr(at + retry_key.size()));
      return;
    }
    if (starts_with(line, R"({"event":"quit")")) {
      frame.kind = FrameKind::quit;
      frame.detail = string_field(line, R"("nick":")");
      return;
    }
    if (starts_with(line, R"({"event":)")) return;  // join, part, nick, topic, gap
    if (line.empty()) return;
    throw std::runtime_error("not a Parley line: " + std::string(line.substr(0, 80)));
  }
};

}  // namespace

std::unique_ptr<Protocol> make_parley_protocol() { return std::make_unique<ParleyProtocol>(); }

}  // namespace parley::bench
