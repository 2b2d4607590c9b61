// --listen's ADDR[,OPTION...]: the address as parse_address takes it, then
// the listener's own options.
#include <string>

#include <doctest/doctest.h>

#include "parley/socket/listen_spec.hpp"

using namespace parley;

namespace {

ListenSpec spec(const std::string& text) {
  std::string error;
  auto parsed = parse_listen_spec(text, error);
  REQUIRE_MESSAGE(parsed, text << ": " << error);
  return *parsed;
}

std::string refusal(const std::string& text) {
  std::string error;
  CHECK_FALSE(parse_listen_spec(text, error));
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("listen spec: a bare address expects no PROXY header") {
  const ListenSpec plain = spec("127.0.0.1:0");
  CHECK_FALSE(plain.proxy);
  CHECK(plain.address.host == "127.0.0.1");
  CHECK(plain.text() == "127.0.0.1:0");
  CHECK_FALSE(spec("unix:/tmp/p.sock").proxy);
}

TEST_CASE("listen spec: ,proxy on TCP, IPv6 and Unix addresses") {
  const ListenSpec v4 = spec("0.0.0.0:7667,proxy");
  CHECK(v4.proxy);
  CHECK(v4.address.port == 7667);
  CHECK(v4.text() == "0.0.0.0:7667,proxy");
  const ListenSpec v6 = spec("[::1]:0,proxy");
  CHECK(v6.proxy);
  CHECK(v6.address.host == "::1");
  CHECK(v6.text() == "[::1]:0,proxy");
  const ListenSpec local = spec("unix:/run/parley.sock,proxy");
  CHECK(local.proxy);
  CHECK(local.address.kind == Address::Kind::unix_socket);
  CHECK(local.address.path == "/run/parley.sock");
  CHECK(spec("127.0.0.1:0,proxy,proxy").proxy);  // saying it twice changes nothing
}

TEST_CASE("listen spec: unknown and empty options are refused, naming the option") {
  CHECK(refusal("127.0.0.1:0,tls").find("unknown option 'tls'") != std::string::npos);
  CHECK(refusal("127.0.0.1:0,proxy,PROXY").find("'PROXY'") != std::string::npos);  // options are case-sensitive
  CHECK(refusal("127.0.0.1:0,").find("empty option") != std::string::npos);
  CHECK(refusal("127.0.0.1:0,,proxy").find("empty option") != std::string::npos);
  // A comma in a Unix path reads as the start of the options.
  CHECK(refusal("unix:/tmp/a,b.sock").find("unknown option 'b.sock'") != std::string::npos);
}

TEST_CASE("listen spec: a bad address is refused as parse_address refuses it") {
  std::string expected;
  CHECK_FALSE(parse_address("localhost", expected));
  CHECK(refusal("localhost,proxy") == expected);
  CHECK_FALSE(refusal(",proxy").empty());
  CHECK_FALSE(refusal("unix:,proxy").empty());
}
