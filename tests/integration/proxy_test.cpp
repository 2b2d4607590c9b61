// --proxy-protocol: the balancer's PROXY header names the real client.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

TEST_CASE("PROXY v1 header: accepted, the real peer is logged") {
  ServerProcess server({"--proxy-protocol"});
  Client c(server.address());
  c.send_raw("PROXY TCP4 203.0.113.7 10.0.0.1 40001 7667\r\n{\"cmd\":\"hello\",\"nick\":\"px\",\"id\":1}\n");
  CHECK(c.next()["ok"] == true);
  CHECK(server.log().find("peer=203.0.113.7:40001") != std::string::npos);
}

TEST_CASE("PROXY v2 header split over two writes") {
  ServerProcess server({"--proxy-protocol"});
  Client c(server.address());
  const std::string header = std::string("\r\n\r\n\0\r\nQUIT\n", 12) + std::string("\x21\x11\x00\x0c", 4) +
                             std::string("\xc6\x33\x64\x05\x7f\x00\x00\x01\x30\x39\x1d\xf3", 12);
  c.send_raw(header.substr(0, 10));
  c.send_raw(header.substr(10) + "{\"cmd\":\"ping\",\"id\":1}\n");
  CHECK(c.next()["ok"] == true);
  CHECK(server.log().find("peer=198.51.100.5:12345") != std::string::npos);
}

TEST_CASE("a missing or malformed PROXY header is fatal bad_proxy_header") {
  ServerProcess server({"--proxy-protocol"});
  Client c(server.address());
  c.send_raw("{\"cmd\":\"ping\"}\n");
  CHECK(c.next()["code"] == "bad_proxy_header");
  CHECK(c.wait_closed());
}
