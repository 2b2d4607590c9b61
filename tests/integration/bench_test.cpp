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

#include "cut_proxy.hpp"
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

TEST_CASE("bench --transport ws: every scenario over WebSocket, upgraded at /ws, as clean as over TCP") {
  ServerProcess server(unlimited);
  const std::vector<std::string> ws{"--transport", "ws"};
  auto with_ws = [&](std::vector<std::string> args) {
    args.insert(args.end(), ws.begin(), ws.end());
    return bench(server, std::move(args));
  };
  auto run = with_ws({"fanout", "--subscribers", "40", "--publishers", "3", "--window", "4"});
  check_bench_clean(run);
  CHECK(run.result["protocol"] == "parley+ws");
  const json& c = run.result["correctness"];
  CHECK(c["sent"].get<long>() > 0);
  CHECK(c["expected"] == c["acked"].get<long>() * 42);
  run = with_ws({"rooms", "--rooms", "8", "--members", "5", "--window", "2"});
  check_bench_clean(run);
  CHECK(run.result["correctness"]["expected"] == run.result["correctness"]["acked"].get<long>() * 4);
  run = with_ws({"pairs", "--pairs", "10"});
  check_bench_clean(run);
  run = with_ws({"connect", "--conns", "8"});
  check_bench_clean(run);
  CHECK(run.result["cycles"].get<long>() > 0);
  run = with_ws({"idle", "--conns", "300"});
  check_bench_clean(run);
  CHECK(run.result["latency_us"]["count"] == 200);
  CHECK(run.result["server"].contains("rss_per_conn_bytes"));
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
  auto users = [&](const ServerProcess& server) { return server_metric(server, "parley_users"); };
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
  const double accepted = server_metric(*old_server, "parley_connections_accepted_total");
  ChildProcess cycles({bench_path, "connect", "--conns", "2", "--connect-join", "--reconnect", "--server",
                       "unix:" + path, "--json", "--warmup", "0", "--duration", "3", "--tag", "rc"},
                      "");
  // The cycles are running.
  REQUIRE(poll_until([&] { return server_metric(*old_server, "parley_connections_accepted_total") > accepted + 10; }));

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

TEST_CASE("bench fanout --reconnect: members cut off resume on the next server, catch up, and count each seq once") {
  // One server behind two forwarders the test can cut: the publishers go
  // through the first, the subscribers through the second (--server twice).
  // The subscribers are cut while the publishers go on: they come back
  // through the first forwarder, resume their sessions and page the history
  // they missed. Then the first is cut under everyone, publishers too, with
  // messages in flight: they all come back through the second. Nothing
  // acknowledged may be lost or seen twice, and no session may end.
  ServerProcess server({"--rate", "0", "--resume-grace", "30", "--history", "20000", "--admin", "127.0.0.1:0"});
  CutProxy first(server.address(), "bench-cut-first"), second(server.address(), "bench-cut-second");
  auto held = [&] { return server_metric(server, "parley_sessions_held"); };
  constexpr int subscribers = 10, publishers = 2;
  // A watcher in the bench's channel (the bench does not count it) sees
  // the publishers' messages: the run is under way, and it goes on.
  Client watcher(server.address());
  watcher.enter("watcher", "cut-0");
  ChildProcess bench({program("PARLEY_BENCH"), "fanout", "--subscribers", std::to_string(subscribers), "--publishers",
                      std::to_string(publishers), "--rate", "1000", "--reconnect", "--server", first.address(),
                      "--server", second.address(), "--json", "--warmup", "0", "--duration", "3", "--drain-timeout",
                      "20", "--tag", "cut"},
                     "");
  watcher.wait_event("message", 15000);

  second.cut();  // the subscribers are lost; the publishers carry on
  // All held at once: they come back 250 ms at the earliest.
  REQUIRE(poll_until([&] { return held() == subscribers; }, 5000, 5));
  for (int i = 0; i < 100; ++i) watcher.wait_event("message");
  REQUIRE(poll_until([&] { return held() == 0; }, 10000));  // back through the first forwarder
  second.restore();

  first.cut();  // everyone, publishers mid-flight
  REQUIRE(poll_until([&] { return held() == subscribers + publishers; }, 5000, 5));
  REQUIRE(poll_until([&] { return held() == 0; }, 10000));  // back through the second

  const BenchRun run = finish_bench(bench, 60000);
  INFO(run.output);
  check_bench_clean(run);
  const json& reconnects = run.result["reconnects"];
  CHECK(reconnects["after_loss"] == 2 * subscribers + publishers);
  CHECK(reconnects["after_shutdown"] == 0);
  // A resume whose answer the second cut caught in flight (the server had
  // resumed the session: held() reached 0) is counted cut, and resumed again.
  CHECK(reconnects["resumed"].get<int>() + reconnects["resumes_cut"].get<int>() == 2 * subscribers + publishers);
  CHECK(reconnects["resumed"].get<int>() >= subscribers + publishers);
  CHECK(reconnects["not_resumed"] == 0);
  CHECK(run.result["catch_up"]["pages"].get<long>() >= subscribers);  // each subscriber missed something
  CHECK(run.result["catch_up"]["messages"].get<long>() >= 100 * subscribers);
  CHECK(run.result["correctness"]["quit_events"] == 0);
  MESSAGE("catch-up " << run.result["catch_up"] << ", unacknowledged "
                      << run.result["correctness"]["unacknowledged"]);
  for (const json& e : watcher.events) CHECK(e["event"] == "message");  // no join, part or quit reached it
}

TEST_CASE("bench rooms --reconnect: every member talks, is cut off, resumes and catches up on its room") {
  // Members alternate between two forwarders, so every room has members on
  // both; cutting one leaves half of each room talking while the other
  // half is away. The history they page holds their own messages too.
  ServerProcess server({"--rate", "0", "--resume-grace", "30", "--history", "20000", "--admin", "127.0.0.1:0"});
  CutProxy first(server.address(), "bench-rooms-first"), second(server.address(), "bench-rooms-second");
  auto held = [&] { return server_metric(server, "parley_sessions_held"); };
  Client watcher(server.address());
  watcher.enter("watcher", "rcut-0");
  ChildProcess bench({program("PARLEY_BENCH"), "rooms", "--rooms", "3", "--members", "4", "--rate", "600",
                      "--reconnect", "--server", first.address(), "--server", second.address(), "--json", "--warmup",
                      "0", "--duration", "2", "--drain-timeout", "20", "--tag", "rcut"},
                     "");
  watcher.wait_event("message", 15000);
  second.cut();  // members 1 and 3 of each room
  // All six held at once: they come back 250 ms at the earliest.
  REQUIRE(poll_until([&] { return held() == 6; }, 5000, 5));
  for (int i = 0; i < 20; ++i) watcher.wait_event("message");  // the others go on meanwhile
  REQUIRE(poll_until([&] { return held() == 0; }, 10000));  // back through the first forwarder

  const BenchRun run = finish_bench(bench, 60000);
  INFO(run.output);
  check_bench_clean(run);
  CHECK(run.result["reconnects"]["after_loss"] == 6);
  CHECK(run.result["reconnects"]["resumed"] == 6);
  CHECK(run.result["catch_up"]["pages"].get<long>() >= 6);
  CHECK(run.result["catch_up"]["messages"].get<long>() > 0);
  CHECK(run.result["correctness"]["quit_events"] == 0);
}

TEST_CASE("bench fanout --reconnect: a say left unanswered counts only if it happened, and then for everyone") {
  // The server is stopped while the publishers (through a forwarder of
  // their own) go on sending into its socket buffers, and their
  // connections are cut before it wakes: none of those says is answered,
  // but the server still reads and runs them when it wakes. They reached
  // the subscribers, so every recipient is owed them.
  ServerProcess server({"--rate", "0", "--resume-grace", "30", "--history", "20000"});
  CutProxy publishers(server.address(), "bench-unanswered-pub"), subscribers(server.address(), "bench-unanswered-sub");
  Client watcher(server.address());
  watcher.enter("watcher", "unans-0");
  ChildProcess bench({program("PARLEY_BENCH"), "fanout", "--subscribers", "5", "--publishers", "2", "--rate", "1000",
                      "--reconnect", "--server", publishers.address(), "--server", subscribers.address(), "--json",
                      "--warmup", "0", "--duration", "2", "--drain-timeout", "20", "--tag", "unans"},
                     "");
  watcher.wait_event("message", 15000);
  REQUIRE(kill(server.pid(), SIGSTOP) == 0);
  const std::uint64_t before = publishers.bytes_to_target();
  // About ten says (each is about 110 bytes) wait in the stopped server's
  // socket buffers: polling a counter, nothing to await.
  const bool sent = poll_until([&] { return publishers.bytes_to_target() >= before + 1100; }, 5000, 5);
  publishers.cut();
  REQUIRE(kill(server.pid(), SIGCONT) == 0);
  REQUIRE(sent);

  const BenchRun run = finish_bench(bench, 60000);
  INFO(run.output);
  check_bench_clean(run);
  const json& c = run.result["correctness"];
  CHECK(c["unacknowledged"].get<long>() >= 10);
  // 6 recipients each (5 subscribers and the other publisher): the says
  // that happened unanswered are owed on top of the acknowledged ones.
  CHECK(c["expected"].get<long>() > 6 * c["acked"].get<long>());
  CHECK(c["expected"].get<long>() <= 6 * (c["acked"].get<long>() + c["unacknowledged"].get<long>()));
  CHECK(run.result["reconnects"]["after_loss"] == 2);
  CHECK(run.result["reconnects"]["resumed"] == 2);
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
