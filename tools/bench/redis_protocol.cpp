// Redis pub/sub over RESP3. RESP3 lets one connection SUBSCRIBE and still
// PUBLISH (under RESP2 a subscribed connection may only (un)subscribe), so
// publishers can be members of their channel exactly as in Parley.
// Messages arrive as push frames: >3 "message" <channel> <payload>.
#include <charconv>
#include <stdexcept>

#include "protocol.hpp"

namespace parley::bench {
namespace {

// Reads RESP3 values from a buffer that may end mid-frame. Every read
// function returns false when the buffer ends first.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::size_t position() const { return pos_; }

  // One line after the type byte, without its CRLF.
  bool line(std::string_view& out) {
    const auto end = in_.find("\r\n", pos_);
    if (end == std::string_view::npos) return false;
    out = in_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
  }

  bool number(std::int64_t& out) {
    std::string_view text;
    if (!line(text)) return false;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || ptr != text.data() + text.size())
      throw std::runtime_error("bad RESP length: " + std::string(text));
    return true;
  }

  bool type(char& out) {
    if (pos_ >= in_.size()) return false;
    out = in_[pos_++];
    return true;
  }

  // A bulk string body of `length` bytes plus CRLF.
  bool body(std::int64_t length, std::string_view& out) {
    const auto size = static_cast<std::size_t>(length);
    if (in_.size() - pos_ < size + 2) return false;
    out = in_.substr(pos_, size);
    pos_ += size + 2;
    return true;
  }

  // Any value; `text` gets a simple/bulk string's content, or "" otherwise.
  bool value(char& kind, std::string_view& text, int depth = 0) {
    if (depth > 32) throw std::runtime_error("RESP nesting too deep");
    text = {};
    if (!type(kind)) return false;
    switch (kind) {
      case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return line(text);
      case '$': case '=': case '!': {
        std::int64_t length = 0;
        if (!number(length)) return false;
        if (length < 0) return true;  // RESP2 null
        return body(length, text);
      }
      case '*': case '>': case '~': case '%': case '|': {
        std::int64_t count = 0;
        if (!number(count)) return false;
        if (count < 0) return true;
        if (kind == '%' || kind == '|') count *= 2;
        for (std::int64_t i = 0; i < count; ++i) {
          char inner_kind = 0;
          std::string_view inner;
          if (!value(inner_kind, inner, depth + 1)) return false;
        }
        if (kind == '|') return value(kind, text, depth + 1);  // an attribute precedes the real value
        return true;
      }
      default:
        throw std::runtime_error(std::string("not a RESP type byte: ") + kind);
    }
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

void append_command(std::string& out, std::initializer_list<std::string_view> words) {
  out += '*';
  out += std::to_string(words.size());
  out += "\r\n";
  for (std::string_view w : words) {
    out += '$';
    out += std::to_string(w.size());
    out += "\r\n";
    out.append(w);
    out += "\r\n";
  }
}

class RedisProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "redis"; }

  void greet(std::string& out, std::string_view nick) const override {
    append_command(out, {"HELLO", "3", "SETNAME", nick});
  }
  void subscribe(std::string& out, std::string_view channel) const override {
    append_command(out, {"SUBSCRIBE", channel});
  }
  void publish(std::string& out, std::string_view channel, std::string_view text) const override {
    append_command(out, {"PUBLISH", channel, text});
  }
  void direct(std::string& out, std::string_view nick, std::string_view text) const override {
    publish(out, inbox_subscription(nick), text);
  }
  void ping(std::string& out) const override { append_command(out, {"PING"}); }
  void pong(std::string&) const override {}  // Redis never pings its clients
  bool goodbye(std::string& out) const override {
    append_command(out, {"QUIT"});
    return true;
  }
  std::string inbox_subscription(std::string_view nick) const override {
    return "inbox." + std::string(nick);
  }
  bool echoes_to_sender() const override { return true; }

  std::size_t next(std::string_view in, Frame& frame) const override {
    frame = Frame{};
    Reader r(in);
    char kind = 0;
    if (!r.type(kind)) return 0;
    if (kind == '>') return push(r, frame);
    Reader whole(in);
    std::string_view text;
    if (!whole.value(kind, text)) return 0;
    frame.kind = kind == '-' ? FrameKind::error_ack : FrameKind::ack;
    if (kind == '-') frame.detail = text;
    return whole.position();
  }

 private:
  // A push: "message" pushes are deliveries, (un)subscribe confirmations
  // answer SUBSCRIBE, anything else is ignored.
  static std::size_t push(Reader& r, Frame& frame) {
    std::int64_t count = 0;
    if (!r.number(count)) return 0;
    std::string_view words[3];
    for (std::int64_t i = 0; i < count; ++i) {
      char kind = 0;
      std::string_view text;
      if (!r.value(kind, text)) return 0;
      if (i < 3) words[i] = text;
    }
    if (count == 3 && words[0] == "message") {
      frame.kind = FrameKind::delivery;
      frame.payload = words[2];
    } else if (words[0] == "subscribe") {
      frame.kind = FrameKind::ack;
    }
    return r.position();
  }
};

}  // namespace

std::unique_ptr<Protocol> make_redis_protocol() { return std::make_unique<RedisProtocol>(); }

}  // namespace parley::bench
