// Framing over real sockets: pipelining, partial lines, CRLF, line_too_long.
#include <poll.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

TEST_CASE("1000 pipelined requests are answered in order") {
  ServerProcess server;
  Client c(server.address());
  std::string batch = "{\"cmd\":\"hello\",\"nick\":\"pipe\",\"id\":0}\n{\"cmd\":\"join\",\"channel\":\"#p\",\"id\":1}\n";
  for (int i = 2; i < 1000; ++i)
    batch += (i % 3 == 0 ? "{\"cmd\":\"ping\",\"id\":" : "{\"cmd\":\"say\",\"channel\":\"#p\",\"text\":\"n\",\"id\":") +
             std::to_string(i) + "}\n";
  c.send_raw(batch);
  long long last_seq = 0;
  for (int i = 0; i < 1000; ++i) {
    json reply = c.next();
    REQUIRE(reply["id"] == i);
    REQUIRE(reply["ok"] == true);
    if (reply.contains("seq") && i > 1) {
      CHECK(reply["seq"].get<long long>() == last_seq + 1);
      last_seq = reply["seq"];
    }
  }
  CHECK(last_seq == 665);
}

TEST_CASE("a line delivered one byte at a time, and CRLF line endings") {
  ServerProcess server;
  Client c(server.address());
  const std::string line = "{\"cmd\":\"hello\",\"nick\":\"slow\",\"id\":\"x\"}\r\n";
  for (char ch : line) c.send_raw(std::string(1, ch));
  json reply = c.next();
  CHECK(reply["ok"] == true);
  CHECK(reply["id"] == "x");
  c.send_raw("\r\n\n{\"cmd\":\"ping\",\"id\":2}\r\n\r\n{\"cmd\":\"ping\",\"id\":3}\n");
  CHECK(c.next()["id"] == 2);
  CHECK(c.next()["id"] == 3);
}

TEST_CASE("bad JSON is answered and the connection stays open") {
  ServerProcess server;
  Client c(server.address());
  c.send_raw("{\"cmd\":\xff}\n");
  CHECK(c.next()["error"]["code"] == "bad_json");
  c.send_raw(std::string("\x00\x01\x02\n", 4));
  CHECK(c.next()["error"]["code"] == "bad_json");
  c.send_raw("{\"cmd\":\"say\",\"text\":\"\\udc00\"}\n");
  CHECK(c.next()["error"]["code"] == "bad_json");
  c.send_raw("\"just a string\"\n");
  CHECK(c.next()["error"]["code"] == "bad_request");
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}

TEST_CASE("line_too_long at max_line + 1, fatal and closed; max_line exactly is fine") {
  ServerProcess server({"--max-line", "1024", "--max-text", "512"});
  Client ok(server.address());
  std::string exact = "{\"cmd\":\"ping\",\"pad\":\"" + std::string(1024 - 23, 'p') + "\"}";
  REQUIRE(exact.size() == 1024);
  ok.send_raw(exact + "\n");
  CHECK(ok.next()["ok"] == true);

  Client bad(server.address());
  bad.send_raw(std::string(1025, 'x'));  // no newline: the framer must not wait for one
  json error = bad.next();
  CHECK(error == json::parse(R"({"event":"error","code":"line_too_long","message":"line longer than 1024 bytes"})"));
  CHECK(bad.wait_closed());
  CHECK(ok.call({{"cmd", "ping"}})["ok"] == true);
}

TEST_CASE("10 MB without a newline costs at most max_line and closes the connection") {
  ServerProcess server;
  const long before = server.rss_kb();
  Client c(server.address());
  const std::string chunk(1 << 16, 'a');
  // The server closes after 64 KiB; later sends may fail, which is the point.
  int sent = 0;
  for (; sent < 160; ++sent) {
    if (::send(c.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
  }
  CHECK(c.next()["code"] == "line_too_long");
  CHECK(c.wait_closed());
  if (!sanitized_build()) CHECK(server.rss_kb() - before < 8 * 1024);
}

TEST_CASE("--rate/--burst: requests past the burst get rate_limited with retry_ms, not run") {
  ServerProcess server({"--rate", "5", "--burst", "5"});
  Client c(server.address());
  std::string batch;
  for (int i = 0; i < 8; ++i) batch += "{\"cmd\":\"ping\",\"id\":" + std::to_string(i) + "}\n";
  c.send_raw(batch + "{\"cmd\":\"hello\",\"nick\":\"flood\",\"id\":8}\n");
  int limited = 0;
  long long retry_ms = 0;
  for (int i = 0; i <= 8; ++i) {
    json reply = c.next();
    CHECK(reply["id"] == i);
    if (reply["ok"] == false) {
      CHECK(reply["error"]["code"] == "rate_limited");
      retry_ms = reply["error"]["retry_ms"];
      CHECK(retry_ms > 0);
      CHECK(retry_ms <= 200);
      ++limited;
    }
  }
  CHECK(limited >= 3);  // 5 of the burst, maybe one refilled meanwhile
  // The limited hello did not run: the nick is still free.
  Client other(server.address());
  CHECK(other.call({{"cmd", "hello"}, {"nick", "flood"}})["ok"] == true);
  // After retry_ms the bucket has a token again.
  pollfd none{-1, 0, 0};
  poll(&none, 0, static_cast<int>(retry_ms) + 20);
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}
