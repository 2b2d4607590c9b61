// tools/bench-compare as CI runs it: the quick shapes against the real
// redis-server and nats-server (installed from Debian by tools/install-deps),
// the Node servers of --ws (their npm packages installed by tools/install-deps)
// and this build's parleyd. A smoke run: it checks that every scenario runs
// clean on every server, never how fast.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

std::string script() { return source_file("tools/bench-compare"); }

// python3 tools/bench-compare --quick ARGS, with this build's parleyd and
// parley-bench and nothing installed.
std::vector<std::string> quick(std::vector<std::string> args) {
  args.insert(args.begin(), {"python3", script(), "--quick"});
  args.insert(args.end(), {"--no-install", "--parleyd", program("PARLEYD"), "--bench", program("PARLEY_BENCH")});
  return args;
}

// The metrics bench-compare shows for rooms-5k, as the lines under the table name them.
constexpr const char* rooms_metrics[] = {"deliveries/s", "server CPU per 1000 deliveries", "latency p50",
                                         "latency p99"};

}  // namespace

TEST_CASE("bench-compare --quick: every scenario runs clean against parleyd, redis-server and nats-server") {
  ChildProcess run(quick({}), "");
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
  ChildProcess run(quick({"--repeat", "3", "--scenarios", "rooms-5k", "--servers", "parley,redis"}), "");
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
  for (const char* metric : rooms_metrics) {
    const auto line = out.find(std::string("rooms-5k  ") + metric + " ", out.find("95% confidence interval"));
    CHECK_MESSAGE(line != std::string::npos, metric);
  }
  CHECK(out.find("95% CI ") != std::string::npos);
  CHECK(out.find(" of 3 rounds") != std::string::npos);
}

TEST_CASE("bench-compare --baseline: a second parleyd under parley's flags, with paired Parley/baseline ratios") {
  // This build against itself: the smoke run checks the plumbing, not the speed.
  ChildProcess run(
      quick({"--repeat", "3", "--scenarios", "rooms-5k", "--servers", "parley", "--baseline", program("PARLEYD")}), "");
  const int status = run.wait(120'000);
  INFO(run.output());
  REQUIRE(status == 0);
  const std::string& out = run.output();
  for (int round = 1; round <= 3; ++round)
    CHECK(out.find("== rooms-5k: baseline (round " + std::to_string(round) + " of 3)") != std::string::npos);
  CHECK(out.find("== rooms-5k: redis") == std::string::npos);
  const auto header = out.find("scenario");
  REQUIRE(header != std::string::npos);
  const std::string header_line = out.substr(header, out.find('\n', header) - header);
  CHECK(header_line.find(" baseline ") != std::string::npos);
  CHECK(header_line.find("parley/baseline") != std::string::npos);
  const auto intervals = out.find("95% confidence interval");
  REQUIRE(intervals != std::string::npos);
  for (const char* metric : rooms_metrics) {
    const auto line = out.find(std::string("rooms-5k  ") + metric + " ", intervals);
    REQUIRE_MESSAGE(line != std::string::npos, metric);
    const std::string text = out.substr(line, out.find('\n', line) - line);
    CHECK_MESSAGE(text.find("parley/baseline") != std::string::npos, text);
    CHECK_MESSAGE(text.find("95% CI ") != std::string::npos, text);
    CHECK_MESSAGE(text.find(" of 3 rounds") != std::string::npos, text);
  }
  CHECK(out.find("baseline: " + program("PARLEYD")) != std::string::npos);
  CHECK(out.find("FAILED") == std::string::npos);
}

TEST_CASE("bench-compare: server baseline without --baseline or --baseline-rev is a usage error") {
  ChildProcess run(quick({"--servers", "parley,baseline"}), "");
  CHECK(run.wait(30'000) == 2);
  CHECK(run.output().find("--baseline") != std::string::npos);
  ChildProcess both(quick({"--baseline", program("PARLEYD"), "--baseline-rev", "HEAD"}), "");
  CHECK(both.wait(30'000) == 2);
}

TEST_CASE("bench-compare --cluster --quick: a parleyd cluster on Redis against parleyd alone, every scenario") {
  ChildProcess run(quick({"--cluster", "--servers", "parley-cluster,parley"}), "");
  const int status = run.wait(240'000);
  INFO(run.output());
  CHECK(status == 0);
  const std::string& out = run.output();
  CHECK(out.find("parley-cluster/parley") != std::string::npos);
  for (const char* scenario : {"cross-fanout-64", "local-fanout-64", "rooms-5k", "rooms-2k", "say-max"})
    CHECK(out.find(scenario) != std::string::npos);
  CHECK(out.find("Redis CPU per say") != std::string::npos);
  CHECK(out.find("FAILED") == std::string::npos);
}

TEST_CASE("bench-compare --cluster --baseline: the baseline's parleyd as a second cluster on its own Redis") {
  ChildProcess run(quick({"--cluster", "--servers", "parley-cluster", "--scenarios", "say-max", "--baseline",
                          program("PARLEYD")}),
                   "");
  const int status = run.wait(120'000);
  INFO(run.output());
  REQUIRE(status == 0);
  const std::string& out = run.output();
  CHECK(out.find("== say-max: baseline-cluster (round 1 of 1)") != std::string::npos);
  CHECK(out.find("parley-cluster/baseline-cluster") != std::string::npos);
  const auto redis_cpu = out.find("Redis CPU per say");
  REQUIRE(redis_cpu != std::string::npos);
  const std::string line = out.substr(redis_cpu, out.find('\n', redis_cpu) - redis_cpu);
  CHECK_MESSAGE(line.find(" - ") == std::string::npos, line);  // measured for both
  CHECK(out.find("FAILED") == std::string::npos);
  // Outside --cluster it is no server.
  ChildProcess alone(quick({"--servers", "parley,baseline-cluster", "--baseline", program("PARLEYD")}), "");
  CHECK(alone.wait(30'000) == 2);
}

// The quick shapes set up in milliseconds, faster than two routed
// nats-server tell each other of a new subscription (interest travels over
// the route after the SUB is acknowledged): without parley-bench's probes
// before the run (Traffic::settle), the first messages were lost to that,
// not to the load, now and then even on the fan-outs.
TEST_CASE("bench-compare --cluster --quick: the routed NATS cluster, every scenario") {
  ChildProcess run(quick({"--cluster", "--servers", "parley-cluster,nats-cluster"}), "");
  const int status = run.wait(240'000);
  INFO(run.output());
  CHECK(status == 0);
  CHECK(run.output().find("parley-cluster/nats-cluster") != std::string::npos);
  CHECK(run.output().find("FAILED") == std::string::npos);
}

TEST_CASE("bench-compare --ws --quick: parleyd over WebSocket and TCP, Socket.IO and Node ws, every scenario") {
  ChildProcess run(quick({"--ws"}), "");
  const int status = run.wait(240'000);
  INFO(run.output());
  CHECK(status == 0);
  const std::string& out = run.output();
  for (const char* ratio : {"parley-ws/parley", "parley-ws/socketio", "parley-ws/node-ws"})
    CHECK(out.find(ratio) != std::string::npos);
  for (const char* scenario : {"ws-fanout-64", "ws-idle", "ws-connect"})
    CHECK(out.find("== " + std::string(scenario) + ": socketio") != std::string::npos);
  CHECK(out.find("Targets (issue 13):") != std::string::npos);
  CHECK(out.find("FAILED") == std::string::npos);
}
