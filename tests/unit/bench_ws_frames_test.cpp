// parley-bench's WebSocket client side: masked client frames of every length
// class round trip through the header parser and the unmasking, requests are
// framed where they were appended, and server frames are parsed in place.
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "options.hpp"
#include "protocol.hpp"
#include "ws_frames.hpp"

using namespace parley::bench;

namespace {

// The payload of the one client frame at the start of `in`, unmasked.
std::string unmask_one(std::string_view in, ws::FrameHeader& h) {
  REQUIRE(ws::parse_header(in, h));
  REQUIRE(h.masked);
  REQUIRE(in.size() == h.header_size + h.payload_size);
  std::string payload(in.substr(h.header_size));
  ws::apply_mask(payload.data(), payload.size(), h.mask);
  return payload;
}

std::string server_frame(std::uint8_t opcode, std::string_view payload) {
  std::string out(1, static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xffff) {
    out += static_cast<char>(126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n);
  } else {
    out += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>(n >> (8 * i));
  }
  return out.append(payload);
}

}  // namespace

TEST_CASE("ws frames: masked client frames of every length class round trip") {
  ws::MaskSource masks;
  for (std::size_t size : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    CAPTURE(size);
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string out;
    ws::append_client_frame(out, ws::text, payload, masks.next());
    ws::FrameHeader h;
    CHECK(unmask_one(out, h) == payload);
    CHECK(h.fin);
    CHECK(h.opcode == ws::text);
    CHECK(h.header_size == (size < 126 ? 6 : size <= 0xffff ? 8 : 14));
    CHECK(h.header_size == ws::header_size(size, true));
    if (size >= 4) CHECK(out.substr(h.header_size) != payload);  // masked on the wire
    for (std::size_t cut = 0; cut < h.header_size; ++cut) CHECK_FALSE(ws::parse_header(out.substr(0, cut), h));
  }
}

TEST_CASE("ws frames: a request is framed where it was appended, its LF dropped") {
  ws::MaskSource masks;
  std::string out = "before";
  const std::string line(300, 'x');
  out += line + "\n";
  ws::frame_tail(out, 6, masks.next());
  CHECK(out.substr(0, 6) == "before");
  ws::FrameHeader h;
  CHECK(unmask_one(std::string_view(out).substr(6), h) == line);
  // Each frame draws a new mask.
  std::string a, b;
  ws::append_client_frame(a, ws::text, "same", masks.next());
  ws::append_client_frame(b, ws::text, "same", masks.next());
  CHECK(a != b);
}

TEST_CASE("ws frames: bad headers are refused") {
  ws::FrameHeader h;
  CHECK_THROWS_AS(ws::parse_header(std::string_view("\xc1\x00", 2), h), std::runtime_error);     // RSV1
  CHECK_THROWS_AS(ws::parse_header(std::string("\x81\x7e\x00\x05", 4), h), std::runtime_error);  // not minimal
}

TEST_CASE("ws transport: the upgrade, then Parley's lines as text frames") {
  auto p = make_transport("ws", make_parley_protocol());
  REQUIRE(p);
  std::string out;
  CHECK(p->opening(out, "127.0.0.1:7667"));
  CHECK(out.find("GET /ws HTTP/1.1\r\n") == 0);
  CHECK(out.find("Sec-WebSocket-Protocol: parley.v1\r\n") != std::string::npos);
  out.clear();
  p->publish(out, "bench", "hello");
  ws::FrameHeader h;
  CHECK(unmask_one(out, h) == R"({"cmd":"say","channel":"bench","text":"hello"})");

  const std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  const std::string message =
      server_frame(ws::text, R"({"event":"message","channel":"bench","from":"a","text":"abc","seq":7,"ts":1})");
  const std::string stream = response + message + server_frame(ws::ping, "hb") + server_frame(ws::close, "\x03\xe8");
  Frame f;
  for (std::size_t n = 1; n < response.size(); ++n) CHECK(p->next(std::string_view(stream).substr(0, n), f) == 0);
  std::string_view in = stream;
  CHECK(p->next(in, f) == response.size());
  CHECK(f.kind == FrameKind::transport_ready);
  in.remove_prefix(response.size());
  for (std::size_t n = 1; n < message.size(); ++n) CHECK(p->next(in.substr(0, n), f) == 0);
  CHECK(p->next(in, f) == message.size());
  CHECK(f.kind == FrameKind::delivery);
  CHECK(f.payload == "abc");
  CHECK(f.seq == 7);
  CHECK(f.payload.data() == in.data() + 2 + f.line.find("abc"));  // in place: no copy
  in.remove_prefix(message.size());
  CHECK(p->next(in, f) == 4);
  CHECK(f.kind == FrameKind::transport_call);
  out.clear();
  p->transport_answer(out, f);
  CHECK(unmask_one(out, h) == "hb");
  CHECK(h.opcode == ws::pong);
  in.remove_prefix(4);
  CHECK(p->next(in, f) == 4);
  CHECK(f.kind == FrameKind::transport_close);

  CHECK_THROWS_AS(p->next("HTTP/1.1 403 Forbidden\r\n\r\n", f), std::runtime_error);
  CHECK_THROWS_AS(p->next("HTTP/1.1 101 Switching Protocols\r\n\r\n", f), std::runtime_error);  // no accept
  CHECK_THROWS_AS(p->next(std::string("\x01\x01x", 3), f), std::runtime_error);                 // fragmented
}

TEST_CASE("socketio transport: Parley's lines as Socket.IO events over Engine.IO") {
  auto p = make_transport("socketio", make_parley_protocol());
  REQUIRE(p);
  std::string out;
  CHECK(p->opening(out, "127.0.0.1:3000"));
  CHECK(out.find("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n") == 0);
  CHECK(out.find("Sec-WebSocket-Protocol") == std::string::npos);
  out.clear();
  ws::FrameHeader h;
  p->greet(out, "n1");
  CHECK(unmask_one(out, h) == R"(42["m",{"cmd":"hello","nick":"n1"}])");
  out.clear();

  Frame f;
  const std::string open = server_frame(ws::text, R"(0{"sid":"x","pingInterval":25000})");
  CHECK(p->next(open, f) == open.size());
  CHECK(f.kind == FrameKind::transport_call);  // answered by connecting to the main namespace
  p->transport_answer(out, f);
  CHECK(unmask_one(out, h) == "40");
  out.clear();
  CHECK(p->next(server_frame(ws::text, R"(40{"sid":"y"})"), f) > 0);
  CHECK(f.kind == FrameKind::transport_ready);
  const std::string reply = server_frame(ws::text, R"(42["m",{"ok":true,"nick":"n1"}])");
  CHECK(p->next(reply, f) == reply.size());
  CHECK(f.kind == FrameKind::ack);
  CHECK(f.line == R"({"ok":true,"nick":"n1"})");
  CHECK(p->next(server_frame(ws::text, "2"), f) == 3);
  CHECK(f.kind == FrameKind::transport_call);
  out.clear();
  p->transport_answer(out, f);
  CHECK(unmask_one(out, h) == "3");
  CHECK(p->next(server_frame(ws::text, "41"), f) == 4);
  CHECK(f.kind == FrameKind::transport_close);
}

TEST_CASE("transports carry line protocols only") {
  CHECK_FALSE(make_transport("tcp", make_parley_protocol()));
  Frame f;
  CHECK_THROWS_AS(make_redis_protocol()->classify("x", f), std::logic_error);
}

TEST_CASE("bench options: --transport ws and socketio carry --protocol parley only") {
  bool help = false;
  CHECK(parse_options({"fanout"}, help).transport == "tcp");
  CHECK(parse_options({"fanout", "--transport", "ws"}, help).transport == "ws");
  CHECK(parse_options({"connect", "--transport=socketio"}, help).transport == "socketio");
  CHECK_THROWS_AS(parse_options({"fanout", "--transport", "ws", "--protocol", "redis"}, help), UsageError);
  CHECK_THROWS_AS(parse_options({"fanout", "--transport", "quic"}, help), UsageError);
}
