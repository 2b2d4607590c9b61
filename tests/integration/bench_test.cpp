// parley-bench against a real parleyd: every scenario runs briefly and its
// own correctness accounting must come out clean (every message reached every
// recipient exactly once, seq in order). These are smoke runs that check
// counts, never speed.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

BenchRun bench(const ServerProcess& server, std::vector<std::string> args, bool want_json = true) {
  BenchRun run = run_bench_smoke(std::move(args), server.address(), "0.4", server.pid());
  INFO(run.output);
  if (want_json) REQUIRE(run.result.is_object());
  return run;
}

const std::vector<std::string> unlimited{"--rate", "0"};

}  // namespace

TEST_CASE("bench fanout, closed loop: every message reaches every other member once") {
  ServerProcess server(unlimited);
  const auto run = bench(server, {"fanout", "--subscribers", "40", "--publishers", "3", "--window", "4"});
  check_bench_clean(run);
  const json& c = run.result["correctness"];
  CHECK(c["sent"].get<long>() > 0);
  // 3 publishers are members too and get each other's messages: 42 recipients each.
  CHECK(c["expected"] == c["acked"].get<long>() * 42);
  CHECK(run.result["deliveries"].get<long>() > 0);
  CHECK(run.result["latency_us"]["count"] == run.result["deliveries"]);
  CHECK(run.result["server"]["cpu_us_per_1000_deliveries"].get<double>() > 0);
  CHECK(run.result["server"]["rss_bytes"].get<long>() > 0);
}

TEST_CASE("bench fanout, open loop at a fixed rate") {
  ServerProcess server(unlimited);
  const auto run = bench(server, {"fanout", "--subscribers", "20", "--rate", "2000", "--payload", "1024"});
  check_bench_clean(run);
  // 0.5 s at 2000/s, give or take the loop's granularity at the edges.
  const long sent = run.result["correctness"]["sent"];
  CHECK(sent >= 900);
  CHECK(sent <= 1100);
  CHECK(run.result["payload"] == 1024);
}

TEST_CASE("bench rooms: every member talks in its own channel") {
  ServerProcess server(unlimited);
  const auto run = bench(server, {"rooms", "--rooms", "8", "--members", "5", "--window", "2"});
  check_bench_clean(run);
  CHECK(run.result["connections"] == 40);
  const json& c = run.result["correctness"];
  CHECK(c["expected"] == c["acked"].get<long>() * 4);
}

TEST_CASE("bench pairs: direct messages, one recipient each") {
  ServerProcess server(unlimited);
  const auto run = bench(server, {"pairs", "--pairs", "25"});
  check_bench_clean(run);
  const json& c = run.result["correctness"];
  CHECK(c["expected"] == c["acked"]);
  CHECK(c["received"].get<long>() > 0);
}

TEST_CASE("bench idle: memory per connection and ping latency among idle connections") {
  ServerProcess server;
  const auto run = bench(server, {"idle", "--conns", "300"});
  check_bench_clean(run);
  CHECK(run.result["latency_us"]["count"] == 200);
  CHECK(run.result["server"].contains("rss_per_conn_bytes"));
}

TEST_CASE("bench connect: cycles complete and none fails") {
  ServerProcess server;
  auto run = bench(server, {"connect", "--conns", "8"});
  check_bench_clean(run);
  CHECK(run.result["cycles"].get<long>() > 0);
  run = bench(server, {"connect", "--conns", "4", "--connect-join"});
  check_bench_clean(run);
  CHECK(run.result["cycles"].get<long>() > 0);
}

TEST_CASE("bench ramp: every step up to --ramp-max is sustained at a modest rate") {
  ServerProcess server(unlimited);
  const auto run = bench(server, {"ramp", "--subscribers", "10", "--ramp-start", "200", "--ramp-factor", "2",
                                  "--step", "0.2", "--ramp-max", "800", "--p99-bound", "500"});
  check_bench_clean(run);
  const json& steps = run.result["steps"];
  REQUIRE(steps.size() == 3);
  CHECK(steps[0]["offered"] == 200);
  CHECK(steps[2]["offered"] == 800);
  for (const json& s : steps) CHECK(s["sustained"] == true);
  CHECK(run.result["sustainable_rate"] == 800);
}

TEST_CASE("bench over a unix socket") {
  const std::string path = temp_socket_path("bench");
  ServerProcess server({"--listen", "unix:" + path, "--rate", "0"});
  check_bench_clean(bench(server, {"fanout", "--subscribers", "10"}));
}

TEST_CASE("bench says so loudly and exits 1 when the server refuses messages") {
  // The server's flood control answers most says with rate_limited: those
  // messages are never delivered, and the run must not pass as clean.
  ServerProcess server({"--rate", "20", "--burst", "20"});
  const auto run = bench(server, {"fanout", "--subscribers", "5", "--window", "8"});
  INFO(run.output);
  CHECK(run.status == 1);
  CHECK(run.result["ok"] == false);
  CHECK(run.result["correctness"]["errors"].get<long>() > 0);
  CHECK(run.result["correctness"]["first_problem"].get<std::string>().find("rate_limited") != std::string::npos);
  CHECK(run.output.find("RUN FAILED") != std::string::npos);
}

TEST_CASE("bench stops with exit status 3 when it cannot set up every connection") {
  // One connection over --max-clients is refused with server_full.
  ServerProcess server({"--max-clients", "10", "--rate", "0"});
  const auto run = bench(server, {"fanout", "--subscribers", "10", "--publishers", "1"}, false);
  INFO(run.output);
  CHECK(run.status == 3);  // set-up failed: not every connection could be made
  CHECK(run.output.find("server_full") != std::string::npos);
}

TEST_CASE("bench reports the connections a draining server closes, and fails the run") {
  ServerProcess server(unlimited);
  // A watcher in the bench's channel sees its first message: set-up is over
  // and the run is measuring.
  Client watcher(server.address());
  watcher.enter("watcher", "drain-0");
  std::vector<std::string> argv{program("PARLEY_BENCH"), "fanout", "--subscribers", "10", "--json", "--server",
                                server.address(), "--duration", "30", "--warmup", "0", "--drain-timeout", "2",
                                "--tag", "drain"};
  ChildProcess child(argv, "");
  watcher.wait_event("message", 15000);
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(child.wait(20000) == 1);
  INFO(child.output());
  CHECK(child.output().find("shutting_down") != std::string::npos);
  CHECK(child.output().find("\"ok\":false") != std::string::npos);
}

TEST_CASE("bench --reconnect rides out a restart: told by `shutdown`, back at the new server, clean") {
  // A server on a Unix socket is drained and a new one takes the same path;
  // the bench's clients come back to it after their (jittered) retry_ms.
  const std::string path = temp_socket_path("reconnect");
  const std::vector<std::string> flags{"--listen", "unix:" + path, "--admin", "127.0.0.1:0",
                                       "--shutdown-retry-ms", "1500"};
  auto metric = [](const ServerProcess& server, const char* name) {
    const HttpResponse r = http_get(server.admin_address(), "/metrics");
    return r.status == 200 ? metric_value(r.body, name).value_or(-1) : -1;
  };
  auto users = [&](const ServerProcess& server) { return metric(server, "parley_users"); };
  auto poll_until = [](auto done) {  // polling the admin API and a path: no event to await
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {  // done() is asked once a round: what it said is the answer
      if (done()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  std::optional<ServerProcess> old_server(std::in_place, flags);
  const std::string bench_path = program("PARLEY_BENCH");
  // Long enough for set-up, the drain, the restart and every jittered retry
  // (up to 2.25 s, then 0.5 s steps while no server listens) on a busy machine.
  ChildProcess idle({bench_path, "idle", "--conns", "20", "--reconnect", "--server", "unix:" + path, "--json",
                     "--duration", "15", "--tag", "ri"},
                    "");
  REQUIRE(poll_until([&] { return users(*old_server) == 20; }));
  const double accepted = metric(*old_server, "parley_connections_accepted_total");
  ChildProcess cycles({bench_path, "connect", "--conns", "2", "--connect-join", "--reconnect", "--server",
                       "unix:" + path, "--json", "--warmup", "0", "--duration", "3", "--tag", "rc"},
                      "");
  // The cycles are running.
  REQUIRE(poll_until([&] { return metric(*old_server, "parley_connections_accepted_total") > accepted + 10; }));

  REQUIRE(kill(old_server->pid(), SIGTERM) == 0);
  REQUIRE(poll_until([&] { return access(path.c_str(), F_OK) != 0; }));  // the drain removed the socket file
  ServerProcess new_server(flags);
  CHECK(old_server->wait_exit(30000) == 0);
  old_server.reset();
  CHECK(poll_until([&] { return users(new_server) >= 20; }));

  const BenchRun idle_run = finish_bench(idle, 30000);
  INFO(idle_run.output);
  check_bench_clean(idle_run);
  CHECK(idle_run.result["reconnects"]["after_shutdown"] == 20);  // each told, none lost unannounced
  CHECK(idle_run.result["reconnects"]["after_loss"] == 0);
  CHECK(idle_run.result["reconnects"]["total"] == 20);

  // Cycles told to go start again later; those begun while no server
  // listened count as lost and retry. None is an error.
  const BenchRun cycle_run = finish_bench(cycles, 30000);
  INFO(cycle_run.output);
  check_bench_clean(cycle_run);
  CHECK(cycle_run.result["cycles"].get<long>() > 0);
  CHECK(cycle_run.result["reconnects"]["total"].get<long>() >= 1);
}

TEST_CASE("bench without --reconnect has no reconnects in its JSON") {
  ServerProcess server;
  const auto run = bench(server, {"idle", "--conns", "5"});
  check_bench_clean(run);
  CHECK_FALSE(run.result.contains("reconnects"));
}

TEST_CASE("bench rejects bad usage with exit status 2") {
  ChildProcess child({program("PARLEY_BENCH"), "fanout", "--payload", "8"}, "");
  CHECK(child.wait() == 2);
  CHECK(child.output().find("--payload") != std::string::npos);
  ChildProcess unknown({program("PARLEY_BENCH"), "stampede"}, "");
  CHECK(unknown.wait() == 2);
  ChildProcess help({program("PARLEY_BENCH"), "--help"}, "");
  CHECK(help.wait() == 0);
  CHECK(help.output().find("ramp") != std::string::npos);
}
