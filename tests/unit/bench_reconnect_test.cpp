// parley-bench --reconnect, the parts that need no server: the flag and the
// scenarios it is allowed with, the `shutdown` event and its retry_ms as the
// Parley adapter reads them, and the jitter's bounds. The reconnects
// themselves run against real servers in integration-bench and
// integration-balancer.
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "loader.hpp"
#include "options.hpp"
#include "protocol.hpp"

using namespace parley::bench;

namespace {

Options parse(std::vector<std::string> args) {
  bool help = false;
  return parse_options(args, help);
}

}  // namespace

TEST_CASE("bench --reconnect: off by default, a switch for idle and connect, refused elsewhere") {
  CHECK_FALSE(parse({"idle"}).reconnect);
  CHECK(parse({"idle", "--reconnect"}).reconnect);
  CHECK(parse({"connect", "--reconnect", "--conns", "3"}).reconnect);
  CHECK_THROWS_AS(parse({"idle", "--reconnect=1"}), UsageError);
  for (const char* scenario : {"fanout", "rooms", "pairs", "ramp"})
    CHECK_THROWS_AS(parse({scenario, "--reconnect"}), UsageError);
}

TEST_CASE("parley adapter: `shutdown` is its own kind and carries retry_ms; `shutting_down` stays fatal") {
  auto p = make_parley_protocol();
  Frame f;
  const std::string shutdown = "{\"event\":\"shutdown\",\"reason\":\"server shutting down\",\"retry_ms\":1733}\n";
  REQUIRE(p->next(shutdown, f) == shutdown.size());
  CHECK(f.kind == FrameKind::shutdown);
  CHECK(f.retry_ms == 1733);
  const std::string fatal = "{\"event\":\"error\",\"code\":\"shutting_down\",\"message\":\"bye\"}\n";
  REQUIRE(p->next(fatal, f) == fatal.size());
  CHECK(f.kind == FrameKind::fatal);
  CHECK(f.detail == "shutting_down");
  CHECK(f.retry_ms == 0);
  const std::string no_retry = "{\"event\":\"shutdown\",\"reason\":\"x\"}\n";
  REQUIRE(p->next(no_retry, f) == no_retry.size());
  CHECK(f.kind == FrameKind::shutdown);
  CHECK(f.retry_ms == 0);
}

TEST_CASE("bench --reconnect: jitter spreads over [delay/2, 3*delay/2) and 0 stays 0") {
  std::mt19937_64 random(7);
  CHECK(jittered_ms(0, random) == 0);
  std::uint64_t low = UINT64_MAX, high = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t ms = jittered_ms(1000, random);
    low = std::min(low, ms);
    high = std::max(high, ms);
  }
  CHECK(low >= 500);
  CHECK(low < 520);  // the whole range is used, not one value
  CHECK(high < 1500);
  CHECK(high > 1480);
}
