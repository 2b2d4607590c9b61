#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/socket/cidr.hpp"

using namespace parley;

namespace {

Cidr block(const std::string& text) {
  std::string error;
  auto cidr = parse_cidr(text, error);
  REQUIRE_MESSAGE(cidr, error);
  return *cidr;
}

}  // namespace

TEST_CASE("cidr: IPv4 blocks, one address, and IPv4 clients of a dual-stack listener") {
  const Cidr loopback = block("127.0.0.0/8");
  CHECK(loopback.contains("127.0.0.1"));
  CHECK(loopback.contains("127.255.1.2"));
  CHECK(loopback.contains("::ffff:127.0.0.1"));
  CHECK_FALSE(loopback.contains("128.0.0.1"));
  CHECK_FALSE(loopback.contains("::1"));
  CHECK_FALSE(loopback.contains("not an address"));
  CHECK(loopback.text() == "127.0.0.0/8");
  const Cidr one = block("10.1.2.3");
  CHECK(one.contains("10.1.2.3"));
  CHECK_FALSE(one.contains("10.1.2.4"));
  CHECK(one.text() == "10.1.2.3");
  const Cidr odd = block("192.168.4.0/22");  // a prefix inside a byte
  CHECK(odd.contains("192.168.7.255"));
  CHECK_FALSE(odd.contains("192.168.8.0"));
  CHECK(block("0.0.0.0/0").contains("8.8.8.8"));
}

TEST_CASE("cidr: IPv6 blocks") {
  const Cidr v6 = block("::1");
  CHECK(v6.contains("::1"));
  CHECK_FALSE(v6.contains("::2"));
  CHECK_FALSE(v6.contains("127.0.0.1"));
  CHECK(v6.text() == "::1");
  const Cidr ula = block("fd00::/8");
  CHECK(ula.contains("fd12:3456::1"));
  CHECK_FALSE(ula.contains("fe80::1"));
  CHECK(ula.text() == "fd00::/8");
}

TEST_CASE("cidr: what is not a block is refused with a reason") {
  std::string error;
  for (const char* bad : {"", "x", "127.0.0.1/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "1.2.3"}) {
    CHECK_FALSE(parse_cidr(bad, error));
    CHECK_FALSE(error.empty());
    error.clear();
  }
}

TEST_CASE("cidr: any_contains looks through every block") {
  const std::vector<Cidr> blocks = {block("10.0.0.0/8"), block("::1")};
  CHECK(any_contains(blocks, "10.20.30.40"));
  CHECK(any_contains(blocks, "::1"));
  CHECK(any_contains(blocks, "::ffff:10.0.0.1"));
  CHECK_FALSE(any_contains(blocks, "127.0.0.1"));
  CHECK_FALSE(any_contains(blocks, ""));
  CHECK_FALSE(any_contains({}, "10.0.0.1"));
}
