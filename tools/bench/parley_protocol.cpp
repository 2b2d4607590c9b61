// Parley's newline-framed JSON. Requests are built by hand: the loader only
// sends names and texts it made itself (plain ASCII, nothing to escape).
// Replies and events are classified by the prefix the server always writes
// (`{"ok":true`, `{"event":"message"`), so a delivery costs one memchr for
// the line end and one search for the text field, never a JSON parse.
#include <cstring>
#include <stdexcept>

#include "protocol.hpp"

namespace parley::bench {
namespace {

constexpr std::string_view pong_reply = R"({"ok":true,"id":"pong"})";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The value of the string field at `key` (e.g. `"code":"`), escapes left as sent.
std::string_view string_field(std::string_view line, std::string_view key) {
  const auto at = line.find(key);
  if (at == std::string_view::npos) return {};
  const std::size_t begin = at + key.size();
  std::size_t end = begin;
  while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
  return line.substr(begin, std::min(end, line.size()) - begin);
}

std::uint64_t number_field(std::string_view line, std::string_view key) {
  const auto at = line.find(key);
  if (at == std::string_view::npos) return 0;
  std::uint64_t value = 0;
  for (std::size_t i = at + key.size(); i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
    value = value * 10 + static_cast<std::uint64_t>(line[i] - '0');
  return value;
}

void parse_message(std::string_view line, Frame& frame) {
  frame.kind = FrameKind::delivery;
  frame.payload = string_field(line, R"("text":")");
  // `seq` follows the text in the server's field order; search after it so a
  // text containing `"seq":` cannot fool us.
  const std::size_t after_text = static_cast<std::size_t>(frame.payload.data() - line.data()) + frame.payload.size();
  frame.seq = number_field(line.substr(after_text), R"("seq":)");
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

  std::size_t next(std::string_view in, Frame& frame) const override {
    const void* nl = std::memchr(in.data(), '\n', in.size());
    if (!nl) return 0;
    const std::size_t consumed = static_cast<std::size_t>(static_cast<const char*>(nl) - in.data()) + 1;
    std::string_view line = in.substr(0, consumed - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    classify(line, frame);
    return consumed;
  }

 private:
  static void append(std::string& out, std::string_view a, std::string_view b, std::string_view c) {
    out.append(a).append(b).append(c);
  }

  static void classify(std::string_view line, Frame& frame) {
    frame = Frame{};
    if (starts_with(line, R"({"event":"message")")) return parse_message(line, frame);
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
    if (starts_with(line, R"({"event":)")) return;  // join, part, quit, nick, topic, shutdown
    if (line.empty()) return;
    throw std::runtime_error("not a Parley line: " + std::string(line.substr(0, 80)));
  }
};

}  // namespace

std::unique_ptr<Protocol> make_parley_protocol() { return std::make_unique<ParleyProtocol>(); }

}  // namespace parley::bench
