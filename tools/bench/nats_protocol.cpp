// NATS core protocol. PUB has no acknowledgement (with verbose off), so each
// PUB, SUB and CONNECT is followed by PING and its PONG is the ack: every
// server then writes one small reply per published message, as Parley and
// Redis do. `echo:false` keeps a publisher's own messages from coming back,
// as in Parley.
#include <charconv>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "protocol.hpp"

namespace parley::bench {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

class NatsProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "nats"; }

  void greet(std::string& out, std::string_view nick) const override {
    out += R"(CONNECT {"verbose":false,"pedantic":false,"echo":false,"name":")";
    out.append(nick);
    out += "\"}\r\nPING\r\n";
  }
  void subscribe(std::string& out, std::string_view channel) const override {
    // A subscription id only has to be unique within the connection.
    out += "SUB ";
    out.append(channel);
    out += ' ';
    out += std::to_string(std::hash<std::string_view>{}(channel) & 0xffffffffu);
    out += "\r\nPING\r\n";
  }
  void publish(std::string& out, std::string_view channel, std::string_view text) const override {
    out += "PUB ";
    out.append(channel);
    out += ' ';
    out += std::to_string(text.size());
    out += "\r\n";
    out.append(text);
    out += "\r\nPING\r\n";
  }
  void direct(std::string& out, std::string_view nick, std::string_view text) const override {
    publish(out, inbox_subscription(nick), text);
  }
  void ping(std::string& out) const override { out += "PING\r\n"; }
  void pong(std::string& out) const override { out += "PONG\r\n"; }
  bool goodbye(std::string&) const override { return false; }
  std::string inbox_subscription(std::string_view nick) const override {
    return "inbox." + std::string(nick);
  }
  bool echoes_to_sender() const override { return false; }
  bool subscribed_everywhere_on_ack() const override { return false; }

  std::size_t next(std::string_view in, Frame& frame) const override {
    frame = Frame{};
    const auto end = in.find("\r\n");
    if (end == std::string_view::npos) return 0;
    const std::string_view line = in.substr(0, end);
    if (starts_with(line, "MSG ")) return message(in, line, frame);
    if (line == "PONG") frame.kind = FrameKind::ack;
    else if (line == "PING") frame.kind = FrameKind::server_ping;
    else if (starts_with(line, "-ERR")) {
      frame.kind = FrameKind::error_ack;
      frame.detail = line.substr(std::min<std::size_t>(line.size(), 5));
    } else if (!starts_with(line, "INFO") && line != "+OK") {
      throw std::runtime_error("not a NATS line: " + std::string(line.substr(0, 80)));
    }
    return end + 2;
  }

 private:
  // MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n
  static std::size_t message(std::string_view in, std::string_view line, Frame& frame) {
    const auto space = line.rfind(' ');
    std::size_t size = 0;
    const auto [ptr, ec] = std::from_chars(line.data() + space + 1, line.data() + line.size(), size);
    if (ec != std::errc{} || ptr != line.data() + line.size())
      throw std::runtime_error("bad NATS MSG line: " + std::string(line.substr(0, 80)));
    const std::size_t body = line.size() + 2;
    if (in.size() < body + size + 2) return 0;
    frame.kind = FrameKind::delivery;
    frame.payload = in.substr(body, size);
    return body + size + 2;
  }
};

}  // namespace

std::unique_ptr<Protocol> make_nats_protocol() { return std::make_unique<NatsProtocol>(); }

}  // namespace parley::bench
