#include <doctest/doctest.h>

#include "parley/protocol/proxy_header.hpp"

using namespace parley;
using Status = ProxyHeader::Status;

TEST_CASE("PROXY v1: TCP4, TCP6, UNKNOWN, incomplete, bad") {
  ProxyHeader h = parse_proxy_header("PROXY TCP4 10.1.2.3 10.0.0.1 5555 7667\r\n{\"cmd\"");
  CHECK(h.status == Status::complete);
  CHECK(h.length == 40);
  CHECK(h.source == "10.1.2.3:5555");
  h = parse_proxy_header("PROXY TCP6 2001:db8::1 ::1 40000 7667\r\n");
  CHECK(h.source == "[2001:db8::1]:40000");
  h = parse_proxy_header("PROXY UNKNOWN\r\n");
  CHECK(h.status == Status::complete);
  CHECK(h.source.empty());
  CHECK_FALSE(h.local);  // v1 has no LOCAL: UNKNOWN may still relay a client
  CHECK(parse_proxy_header("PRO").status == Status::incomplete);
  CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4").status == Status::incomplete);
  CHECK(parse_proxy_header("{\"cmd\":\"hello\"}\n").status == Status::bad);
  CHECK(parse_proxy_header("PROXY TCP4 1.2.3.999 1.2.3.4 1 2\r\n").status == Status::bad);
  CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n").status == Status::bad);
  CHECK(parse_proxy_header("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n").status == Status::bad);
  CHECK(parse_proxy_header("PROXY " + std::string(200, 'x')).status == Status::bad);
}

TEST_CASE("PROXY v2: PROXY over IPv4, LOCAL, bad version") {
  const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);
  std::string v4 = signature + std::string("\x21\x11\x00\x0c", 4) +
                   std::string("\x7f\x00\x00\x02\x7f\x00\x00\x01\x1f\x90\x1d\xf3", 12);
  ProxyHeader h = parse_proxy_header(v4 + "rest");
  CHECK(h.status == Status::complete);
  CHECK(h.length == 28);
  CHECK(h.source == "127.0.0.2:8080");
  CHECK(parse_proxy_header(v4.substr(0, 20)).status == Status::incomplete);
  CHECK(parse_proxy_header(signature.substr(0, 5)).status == Status::incomplete);
  CHECK_FALSE(h.local);
  ProxyHeader local = parse_proxy_header(signature + std::string("\x20\x00\x00\x00", 4));
  CHECK(local.status == Status::complete);
  CHECK(local.source.empty());
  CHECK(local.local);
  // LOCAL with an address block (HAProxy's checks may send one): skipped whole, still LOCAL.
  local = parse_proxy_header(signature + std::string("\x20\x11\x00\x0c", 4) + std::string(12, '\x01') + "x");
  CHECK(local.status == Status::complete);
  CHECK(local.length == 28);
  CHECK(local.source.empty());
  CHECK(local.local);
  CHECK(parse_proxy_header(signature + std::string("\x31\x11\x00\x0c", 4)).status == Status::bad);
}
