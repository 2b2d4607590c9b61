// The frame side of the WebSocket transport: headers the server writes for
// every length class, the close codes, UTF-8 across pieces, the splitter of
// messages into lines, and the reader of client frames (through wslay).
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/transport/ws/close_code.hpp"
#include "parley/transport/ws/frame_header.hpp"
#include "parley/transport/ws/message_lines.hpp"
#include "parley/transport/ws/message_reader.hpp"
#include "parley/transport/ws/utf8.hpp"

using namespace parley;
using namespace parley::ws;

namespace {

std::string header(std::uint64_t length) {
  char out[max_frame_header];
  return std::string(out, write_frame_header(out, Opcode::text, length));
}

// A client's frame: masked (unless told not to), as browsers send them.
std::string client_frame(std::uint8_t opcode, const std::string& payload, bool fin = true, bool masked = true) {
  std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  const char mask_bit = masked ? '\x80' : '\0';
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(payload.size()));
  } else {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  }
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

struct Recorder : MessageHandler {
  std::vector<std::string> lines;
  std::string text;  // of the message in progress
  std::vector<std::string> pings;
  std::uint16_t closed = 0;
  std::uint16_t violation = 0;
  bool on_text(std::string_view piece, bool end) override {
    text += piece;
    if (end) {
      lines.push_back(text);
      text.clear();
    }
    return true;
  }
  void on_ping(std::string_view payload) override { pings.emplace_back(payload); }
  void on_close(std::uint16_t code) override { closed = code; }
  void on_violation(std::uint16_t code, std::string_view) override { violation = code; }
};

// Feeds `bytes` `chunk` at a time.
Recorder read(const std::string& bytes, std::size_t chunk = 1 << 20) {
  FramePool pool;
  Recorder r;
  MessageReader reader(pool, r);
  for (std::size_t at = 0; at < bytes.size() && !reader.ended(); at += chunk) {
    std::string_view piece = std::string_view(bytes).substr(at, chunk);
    reader.feed(piece);
  }
  return r;
}

}  // namespace

TEST_CASE("websocket: frame headers for every length class (0, 125, 126, 65535, 65536)") {
  CHECK(header(0) == std::string("\x81\x00", 2));
  CHECK(header(125) == "\x81\x7d");
  CHECK(header(126) == std::string("\x81\x7e\x00\x7e", 4));
  CHECK(header(65535) == "\x81\x7e\xff\xff");
  CHECK(header(65536) == std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  for (std::uint64_t n : {0ull, 125ull, 126ull, 65535ull, 65536ull}) CHECK(header(n).size() == frame_header_size(n));
}

TEST_CASE("websocket: close frames carry the code, then a reason cut to fit") {
  CHECK(close_frame(1009, "line_too_long") == std::string("\x88\x0f\x03\xf1line_too_long"));
  const std::string long_frame = close_frame(1008, std::string(200, 'x'));
  CHECK(long_frame.size() == 2 + 125);
  const std::string cut = close_frame(1000, std::string(122, 'x') + "\xc3\xa9");  // é would straddle the end
  CHECK(cut.size() == 2 + 2 + 122);
  CHECK(control_frame(Opcode::pong, "abc") == "\x8a\x03" "abc");
}

TEST_CASE("websocket: close codes: 1009 line_too_long, 1001 shutting_down, 1008 every other fatal") {
  CHECK(close_code_for(CloseReason::line_too_long) == 1009);
  CHECK(close_code_for(CloseReason::shutting_down) == 1001);
  for (CloseReason r : {CloseReason::slow_consumer, CloseReason::idle_timeout, CloseReason::server_full,
                        CloseReason::bad_proxy_header, CloseReason::rate_limited, CloseReason::replaced})
    CHECK(close_code_for(r) == 1008);
  CHECK(close_code_for(CloseReason::quit) == 1000);
  CHECK(close_code_for(CloseReason::eof) == 1000);
  CHECK(close_text_for(CloseReason::idle_timeout) == "idle_timeout");
  CHECK(close_text_for(CloseReason::eof).empty());
  CHECK(valid_received_code(1000));
  CHECK(valid_received_code(4000));
  CHECK_FALSE(valid_received_code(1005));
  CHECK_FALSE(valid_received_code(999));
  CHECK_FALSE(valid_received_code(2000));
}

TEST_CASE("websocket: UTF-8 is validated across pieces, also inside a character") {
  Utf8Validator v;
  CHECK(v.feed("h\xc3"));
  CHECK_FALSE(v.at_boundary());
  CHECK(v.feed("\xa9 ok \xf0\x9f"));
  CHECK(v.feed("\x98\x80"));
  CHECK(v.at_boundary());
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80", "\xe0\x80\x80"}) {
    Utf8Validator w;
    CHECK_FALSE(w.feed(bad));
  }
}

TEST_CASE("websocket: the splitter: LF and the message's end end lines; max_line applies per line") {
  LineFramer framer(8);
  MessageLines lines(framer);
  std::vector<std::string> got;
  auto take = [&](std::string_view l) {
    got.emplace_back(l);
    return true;
  };
  CHECK(lines.feed("a\nbb", false, take) == MessageLines::Status::drained);
  CHECK(lines.feed("b", true, take) == MessageLines::Status::drained);
  CHECK(lines.feed("\r\n\ncc\n", true, take) == MessageLines::Status::drained);  // empty lines are skipped
  CHECK(got == std::vector<std::string>{"a", "bbb", "cc"});
  CHECK(lines.feed("12345678", true, take) == MessageLines::Status::drained);  // exactly max_line
  CHECK(lines.feed("123456789", true, take) == MessageLines::Status::line_too_long);
}

TEST_CASE("websocket: the splitter pauses and owes the message's end until resumed") {
  LineFramer framer(64);
  MessageLines lines(framer);
  std::vector<std::string> got;
  bool ready = false;
  auto take = [&](std::string_view l) {
    got.emplace_back(l);
    return ready;
  };
  CHECK(lines.feed("one\ntwo", true, take) == MessageLines::Status::paused);
  CHECK(got == std::vector<std::string>{"one"});
  ready = true;
  CHECK(lines.resume(take) == MessageLines::Status::drained);
  CHECK(got == std::vector<std::string>{"one", "two"});
}

TEST_CASE("websocket: messages, fragments with control frames between them, pings and close") {
  const std::string bytes = client_frame(0x1, "{\"cmd\":", false) + client_frame(0x9, "hi") +
                            client_frame(0x0, "\"ping\"}") + client_frame(0x1, "") + client_frame(0xA, "x") +
                            client_frame(0x8, "\x03\xe8" "bye");
  for (std::size_t chunk : {1, 3, 1000}) {
    const Recorder r = read(bytes, chunk);
    CHECK(r.lines == std::vector<std::string>{"{\"cmd\":\"ping\"}", ""});
    CHECK(r.pings == std::vector<std::string>{"hi"});
    CHECK(r.closed == 1000);
    CHECK(r.violation == 0);
  }
  CHECK(read(client_frame(0x8, "")).closed == no_status);
}

TEST_CASE("websocket: violations: unmasked 1002, binary 1003, bad UTF-8 1007 (also split), bad close 1002") {
  CHECK(read(client_frame(0x1, "{}", true, false)).violation == 1002);
  CHECK(read(client_frame(0x2, "\x01")).violation == 1003);
  CHECK(read(client_frame(0x1, "\xff")).violation == 1007);
  CHECK(read(client_frame(0x1, "ok \xe2\x82", false) + client_frame(0x0, "\x28")).violation == 1007);
  CHECK(read(client_frame(0x1, "ends \xe2\x82")).violation == 1007);
  CHECK(read(client_frame(0x0, "x")).violation == 1002);                                 // continuation first
  CHECK(read(client_frame(0x1, "a", false) + client_frame(0x1, "b")).violation == 1002);  // a message inside one
  CHECK(read(client_frame(0x3, "")).violation == 1002);                                  // reserved opcode
  std::string rsv = client_frame(0x1, "{}");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);  // RSV1 without an extension
  CHECK(read(rsv).violation == 1002);
  CHECK(read(client_frame(0x8, "\x03")).violation == 1002);
  CHECK(read(client_frame(0x8, "\x03\xed")).violation == 1002);  // 1005 is never sent
  CHECK(read(client_frame(0x8, "\x03\xe8\xff")).violation == 1007);
  CHECK(read(client_frame(0x9, "x", false)).violation == 1002);  // a fragmented ping (wslay refuses it)
}

TEST_CASE("websocket: the frame context goes back to the pool once a frame is whole") {
  FramePool pool;
  Recorder r;
  MessageReader reader(pool, r);
  const std::string frame = client_frame(0x1, std::string(300, 'a'));
  std::string_view head = std::string_view(frame).substr(0, 100);
  CHECK(reader.feed(head) == MessageReader::Status::drained);
  CHECK(reader.holds_context());
  std::string_view rest = std::string_view(frame).substr(100);
  CHECK(reader.feed(rest) == MessageReader::Status::drained);
  CHECK_FALSE(reader.holds_context());
  CHECK(r.lines.size() == 1);
}
