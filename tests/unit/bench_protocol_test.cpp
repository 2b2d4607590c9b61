#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "protocol.hpp"

using namespace parley::bench;

namespace {

// Parses `stream` frame by frame, as the loader does.
std::vector<Frame> frames(const Protocol& p, std::string_view stream, std::size_t* rest = nullptr) {
  std::vector<Frame> out;
  Frame f;
  while (!stream.empty()) {
    const std::size_t used = p.next(stream, f);
    if (used == 0) break;
    out.push_back(f);
    stream.remove_prefix(used);
  }
  if (rest) *rest = stream.size();
  return out;
}

// Every proper prefix of a single frame is incomplete.
void check_every_prefix_incomplete(const Protocol& p, const std::string& frame) {
  Frame f;
  for (std::size_t n = 0; n < frame.size(); ++n) CHECK(p.next(std::string_view(frame).substr(0, n), f) == 0);
  CHECK(p.next(frame, f) == frame.size());
}

}  // namespace

TEST_CASE("parley adapter: requests are the protocol's JSON lines") {
  auto p = make_parley_protocol();
  std::string out;
  p->greet(out, "b1_0");
  p->subscribe(out, "bench");
  p->publish(out, "bench", "hello");
  p->direct(out, "b1_1", "hi");
  p->ping(out);
  CHECK(p->goodbye(out));
  CHECK(out ==
        "{\"cmd\":\"hello\",\"nick\":\"b1_0\"}\n{\"cmd\":\"join\",\"channel\":\"bench\"}\n"
        "{\"cmd\":\"say\",\"channel\":\"bench\",\"text\":\"hello\"}\n{\"cmd\":\"msg\",\"to\":\"b1_1\",\"text\":\"hi\"}\n"
        "{\"cmd\":\"ping\"}\n{\"cmd\":\"quit\"}\n");
  CHECK_FALSE(p->echoes_to_sender());
  CHECK(p->inbox_subscription("x").empty());
}

TEST_CASE("parley adapter: classifies replies and events") {
  auto p = make_parley_protocol();
  const std::string stream =
      "{\"ok\":true,\"channel\":\"bench\",\"seq\":3,\"ts\":1}\n"
      "{\"event\":\"message\",\"channel\":\"bench\",\"from\":\"a\",\"text\":\"abc\\\"\\\"seq\\\":9\",\"seq\":42,\"ts\":1}\r\n"
      "{\"event\":\"message\",\"from\":\"a\",\"to\":\"b\",\"text\":\"direct\",\"ts\":1}\n"
      "{\"ok\":false,\"error\":{\"code\":\"rate_limited\",\"message\":\"slow\",\"retry_ms\":3}}\n"
      "{\"event\":\"ping\"}\n"
      "{\"ok\":true,\"id\":\"pong\"}\n"
      "{\"event\":\"join\",\"channel\":\"bench\",\"nick\":\"c\"}\n"
      "{\"event\":\"error\",\"code\":\"slow_consumer\",\"message\":\"x\"}\n"
      "{\"ok\":true";
  std::size_t rest = 0;
  const auto f = frames(*p, stream, &rest);
  REQUIRE(f.size() == 8);
  CHECK(rest == std::string("{\"ok\":true").size());
  CHECK(f[0].kind == FrameKind::ack);
  CHECK(f[1].kind == FrameKind::delivery);
  CHECK(f[1].payload == "abc\\\"\\\"seq\\\":9");  // escapes as sent; a `"seq":` inside the text is not the seq
  CHECK(f[1].seq == 42);
  CHECK(f[2].kind == FrameKind::delivery);
  CHECK(f[2].payload == "direct");
  CHECK(f[2].seq == 0);
  CHECK(f[3].kind == FrameKind::error_ack);
  CHECK(f[3].detail == "rate_limited");
  CHECK(f[4].kind == FrameKind::server_ping);
  CHECK(f[5].kind == FrameKind::ignored);  // the answer to our pong
  CHECK(f[6].kind == FrameKind::ignored);
  CHECK(f[7].kind == FrameKind::fatal);
  CHECK(f[7].detail == "slow_consumer");
  check_every_prefix_incomplete(*p, "{\"event\":\"message\",\"text\":\"x\",\"seq\":1}\n");
  Frame frame;
  CHECK_THROWS_AS(p->next("+OK\r\n", frame), std::runtime_error);
}

TEST_CASE("redis adapter: commands are RESP arrays of bulk strings") {
  auto p = make_redis_protocol();
  std::string out;
  p->greet(out, "n");
  p->subscribe(out, "ch");
  p->publish(out, "ch", "hey");
  CHECK(out ==
        "*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n"
        "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"
        "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\nhey\r\n");
  out.clear();
  p->direct(out, "bob", "x");
  CHECK(out == "*3\r\n$7\r\nPUBLISH\r\n$9\r\ninbox.bob\r\n$1\r\nx\r\n");
  CHECK(p->inbox_subscription("bob") == "inbox.bob");
  CHECK(p->echoes_to_sender());
}

TEST_CASE("redis adapter: parses RESP3 replies and pushes, whole or cut anywhere") {
  auto p = make_redis_protocol();
  const std::string hello =
      "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n";
  const std::string subscribed = ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
  const std::string message = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nab\r\nc\r\n";
  const std::string published = ":2000\r\n";
  const std::string error = "-ERR unknown command\r\n";
  const std::string with_attribute = "|1\r\n+key\r\n+value\r\n+OK\r\n";
  const std::string stream = hello + subscribed + message + published + error + with_attribute;
  const auto f = frames(*p, stream);  // the frames point into `stream`
  REQUIRE(f.size() == 6);
  CHECK(f[0].kind == FrameKind::ack);
  CHECK(f[1].kind == FrameKind::ack);
  CHECK(f[2].kind == FrameKind::delivery);
  CHECK(f[2].payload == "ab\r\nc");  // a bulk string may hold CRLF
  CHECK(f[3].kind == FrameKind::ack);
  CHECK(f[4].kind == FrameKind::error_ack);
  CHECK(f[4].detail == "ERR unknown command");
  CHECK(f[5].kind == FrameKind::ack);
  for (const std::string& frame : {hello, subscribed, message, published, error})
    check_every_prefix_incomplete(*p, frame);
  Frame frame;
  CHECK_THROWS_AS(p->next("{\"ok\":true}\n", frame), std::runtime_error);
  CHECK_THROWS_AS(p->next("$x\r\n", frame), std::runtime_error);
}

TEST_CASE("nats adapter: every request is followed by PING so its PONG acks it") {
  auto p = make_nats_protocol();
  std::string out;
  p->greet(out, "n");
  CHECK(out == "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"name\":\"n\"}\r\nPING\r\n");
  out.clear();
  p->publish(out, "ch", "hey");
  CHECK(out == "PUB ch 3\r\nhey\r\nPING\r\n");
  out.clear();
  p->subscribe(out, "ch");
  CHECK(out.rfind("SUB ch ", 0) == 0);
  CHECK(out.size() > 9);
  CHECK(out.substr(out.size() - 8) == "\r\nPING\r\n");
  out.clear();
  CHECK_FALSE(p->goodbye(out));
  CHECK(out.empty());
  CHECK_FALSE(p->echoes_to_sender());
}

TEST_CASE("nats adapter: parses INFO, MSG (with and without reply subject), PING, PONG, -ERR") {
  auto p = make_nats_protocol();
  const std::string info = "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n";
  const std::string msg = "MSG ch 17 5\r\nab\r\nc\r\n";
  const std::string msg_reply = "MSG ch 17 _INBOX.x 2\r\nhi\r\n";
  const std::string stream = info + msg + msg_reply + "PING\r\nPONG\r\n+OK\r\n-ERR 'Slow Consumer'\r\n";
  const auto f = frames(*p, stream);  // the frames point into `stream`
  REQUIRE(f.size() == 7);
  CHECK(f[0].kind == FrameKind::ignored);
  CHECK(f[1].kind == FrameKind::delivery);
  CHECK(f[1].payload == "ab\r\nc");
  CHECK(f[2].kind == FrameKind::delivery);
  CHECK(f[2].payload == "hi");
  CHECK(f[3].kind == FrameKind::server_ping);
  CHECK(f[4].kind == FrameKind::ack);
  CHECK(f[5].kind == FrameKind::ignored);
  CHECK(f[6].kind == FrameKind::error_ack);
  CHECK(f[6].detail == "'Slow Consumer'");
  check_every_prefix_incomplete(*p, msg);
  check_every_prefix_incomplete(*p, info);
  Frame frame;
  CHECK_THROWS_AS(p->next("MSG ch 1 x\r\n", frame), std::runtime_error);
  CHECK_THROWS_AS(p->next("HELLO\r\n", frame), std::runtime_error);
}

TEST_CASE("make_protocol knows the three names and nothing else") {
  CHECK(make_protocol("parley")->name() == "parley");
  CHECK(make_protocol("redis")->name() == "redis");
  CHECK(make_protocol("nats")->name() == "nats");
  CHECK(make_protocol("kafka") == nullptr);
}
