// tools/bench-compare as CI runs it: the quick shapes against the real
// redis-server and nats-server (installed from Debian by tools/install-deps)
// and this build's parleyd. A smoke run: it checks that every scenario runs
// clean on every server, never how fast.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

// tools/bench-compare --quick with `args`, against this build's parleyd and
// parley-bench, installing nothing.
std::vector<std::string> bench_compare(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"python3", source_file("tools/bench-compare"), "--quick"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--no-install", "--parleyd", program("PARLEYD"), "--bench", program("PARLEY_BENCH")});
  return argv;
}

}  // namespace

TEST_CASE("bench-compare --quick: every scenario runs clean against parleyd, redis-server and nats-server") {
  ChildProcess run(bench_compare({}), "");
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

TEST_CASE("bench-compare over rounds: who goes first rotates, and each ratio gets a confidence interval") {
  ChildProcess run(bench_compare({"--repeat", "3", "--scenarios", "rooms-5k", "--servers", "parley,redis"}), "");
  const int status = run.wait(120'000);
  INFO(run.output());
  REQUIRE(status == 0);
  const std::string& out = run.output();
  const auto first_of_round = [&](int round) {
    const std::string tail = " (round " + std::to_string(round) + " of 3)";
    const auto parley = out.find("== rooms-5k: parley" + tail);
    const auto redis = out.find("== rooms-5k: redis" + tail);
    REQUIRE(parley != std::string::npos);
    REQUIRE(redis != std::string::npos);
    return parley < redis ? "parley" : "redis";
  };
  CHECK(std::string(first_of_round(1)) == "parley");
  CHECK(std::string(first_of_round(2)) == "redis");
  CHECK(std::string(first_of_round(3)) == "parley");
  CHECK(out.find("95% confidence interval") != std::string::npos);
  for (const char* metric : {"deliveries/s", "server CPU per 1000 deliveries", "latency p50", "latency p99"}) {
    const auto line = out.find(std::string("rooms-5k  ") + metric + " ", out.find("95% confidence interval"));
    CHECK_MESSAGE(line != std::string::npos, metric);
  }
  CHECK(out.find("95% CI ") != std::string::npos);
  CHECK(out.find(" of 3 rounds") != std::string::npos);
}
