// tools/bench-compare as CI runs it: the quick shapes against the real
// redis-server and nats-server (installed from Debian by tools/install-deps)
// and this build's parleyd. A smoke run: it checks that every scenario runs
// clean on every server, never how fast.
#include <doctest/doctest.h>

#include <cstdlib>

#include "support/harness.hpp"

using namespace parley::test;

TEST_CASE("bench-compare --quick: every scenario runs clean against parleyd, redis-server and nats-server") {
  const std::string script = std::string(std::getenv("SOURCE_ROOT")) + "/tools/bench-compare";
  ChildProcess run({"python3", script, "--quick", "--no-install", "--parleyd", program("PARLEYD"), "--bench",
                    program("PARLEY_BENCH")},
                   "");
  const int status = run.wait(240'000);
  INFO(run.output());
  CHECK(status == 0);
  const std::string& out = run.output();
  CHECK(out.find("parley/redis") != std::string::npos);
  CHECK(out.find("parley/nats") != std::string::npos);
  for (const char* scenario : {"fanout-64", "fanout-1k", "fanout-200", "rooms-5k", "pairs-10k", "idle-10k", "connect"})
    CHECK(out.find(scenario) != std::string::npos);
  CHECK(out.find("FAILED") == std::string::npos);
}
