// parley-bench through a real load balancer: Debian's HAProxy in TCP mode in
// front of parleyd, handing each client's address on in a PROXY v2 header.
// Every scenario must come out clean through it, and parleyd must take each
// client's address from the header. Then two instances behind it, one of
// them drained under load: HAProxy must take it out of rotation on its
// /readyz, and every client must come back through HAProxy to the other;
// the same through nginx's stream proxy, which only learns from a refused
// connect. The configs are read out of docs/deploy.md, adapted only as
// deploy_haproxy_cfg() and deploy_nginx_stream() say. Smoke runs: counts,
// not speed.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "balancer.hpp"
#include "doc_blocks.hpp"
#include "harness.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

// docs/deploy.md's haproxy.cfg of section 3 (see deploy_haproxy_cfg()).
constexpr const char* haproxy_block = "# /etc/haproxy/haproxy.cfg";

BenchRun through(const Balancer& balancer, std::vector<std::string> args) {
  return run_bench_smoke(std::move(args), balancer.address(), "0.5");
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}


// Polls `done` every 20 ms until it holds or `seconds` pass (polling HTTP
// APIs and HAProxy's stats: no event to await); returns whether it held.
template <typename Done>
bool poll_until(double seconds, Done done) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// docs/deploy.md's nginx stream block, read out of the page, for `a` and
// `b`: only the addresses change (127.0.0.1 with ports chosen at run time).
std::string deploy_nginx_stream(const ServerProcess& a, const ServerProcess& b) {
  return substitute(doc_block("docs/deploy.md", "# /etc/nginx/nginx.conf, at the top level"),
                    {{"listen 7667;", "listen ADDRESS;"},
                     {"server 192.0.2.11:7667 ", "server " + a.address() + " "},
                     {"server 192.0.2.12:7667 ", "server " + b.address() + " "}});
}

// HAProxy's `show stat` says it checks `server` and finds it ready.
bool up(Balancer& balancer, const char* server) {
  auto s = balancer.server_stats("parley", server);
  return s["status"] == "UP" && s["check_status"] == "L7OK";
}

// The lines of `text` that contain every one of `parts`.
std::size_t lines_with(const std::string& text, std::initializer_list<std::string> parts) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) ++n;
  }
  return n;
}

// The N of parleyd's `draining on SIGTERM, N connections,` line; -1 without one.
long draining_connections(const std::string& log) {
  const std::string start = "draining on SIGTERM, ";
  const std::size_t at = log.find(start);
  return at == std::string::npos ? -1 : std::strtol(log.c_str() + at + start.size(), nullptr, 10);
}

}  // namespace

TEST_CASE("parley-bench through HAProxy: every scenario clean, peers named by the PROXY header") {
  ServerProcess server({"--rate", "0", "--listen", "127.0.0.1:0,proxy", "--trusted-proxy", "127.0.0.0/8", "--admin",
                        "127.0.0.1:0"});
  Balancer balancer(deploy_haproxy_cfg(haproxy_block, server, nullptr));
  INFO("haproxy.cfg:\n" << balancer.config());
  REQUIRE_MESSAGE(poll_until(5, [&] { return up(balancer, "a"); }), "HAProxy did not find the server ready");

  const BenchRun fanout = through(balancer, {"fanout", "--subscribers", "30", "--publishers", "2", "--window", "4"});
  check_bench_clean(fanout);
  CHECK(fanout.result["deliveries"].get<long>() > 0);
  check_bench_clean(through(balancer, {"rooms", "--rooms", "5", "--members", "4", "--rate", "500"}));
  check_bench_clean(through(balancer, {"pairs", "--pairs", "10", "--rate", "500"}));
  check_bench_clean(through(balancer, {"idle", "--conns", "50"}));
  const BenchRun cycles = through(balancer, {"connect", "--conns", "4"});
  check_bench_clean(cycles);
  CHECK(cycles.result["cycles"].get<long>() > 0);

  // Every connection came through the balancer, and its PROXY header named
  // the loader's socket as the peer.
  const std::string log = server.log();
  CHECK(log.find("connected through proxy") != std::string::npos);
  CHECK(log.find("fatal") == std::string::npos);
}

TEST_CASE("two parleyd behind HAProxy: one drains under load, its clients come back through HAProxy to the other") {
  constexpr double grace_s = 0.5, window_s = 1.0;
  constexpr int clients = 200;
  // retry_ms 600 spreads the clients' own reconnects over 0.15-1.35 s (the
  // server's spread, then the client's): some leave within the grace, the
  // rest are closed by the window.
  const std::vector<std::string> flags{"--listen",      "127.0.0.1:0,proxy", "--trusted-proxy", "127.0.0.0/8",
                                       "--admin",       "127.0.0.1:0",       "--drain-grace",   "0.5",
                                       "--drain-window", "1",                "--shutdown-retry-ms", "600"};
  ServerProcess a(flags), b(flags);
  Balancer balancer(deploy_haproxy_cfg(haproxy_block, a, &b));
  INFO("haproxy.cfg:\n" << balancer.config());
  REQUIRE_MESSAGE(poll_until(5, [&] { return up(balancer, "a") && up(balancer, "b"); }),
                  "HAProxy did not find both servers ready");

  // The load: idle registered clients through HAProxy, which leastconn
  // spreads over both instances; they ride out a drain (--reconnect). Long
  // enough to outlast the cycles below, the drain and the return to b.
  const std::string bench_path = program("PARLEY_BENCH");
  ChildProcess idle({bench_path, "idle", "--conns", std::to_string(clients), "--reconnect", "--server",
                     balancer.address(), "--json", "--duration", "8", "--setup-timeout", "10", "--tag", "lb"},
                    "");
  REQUIRE_MESSAGE(poll_until(10, [&] { return server_metric(a, "parley_users") + server_metric(b, "parley_users") == clients; }),
                  "the clients did not all register through HAProxy");
  const double on_a = server_metric(a, "parley_users");
  CHECK(on_a > clients / 4);  // leastconn spread them
  CHECK(server_metric(b, "parley_users") > clients / 4);

  // And connects arriving all through the drain: two connections that
  // connect, greet and leave over and over through HAProxy, told to come
  // back later when a drains under them (--reconnect).
  const double a_accepted = server_metric(a, "parley_connections_accepted_total");
  ChildProcess cycles({bench_path, "connect", "--conns", "2", "--reconnect", "--server", balancer.address(), "--json",
                       "--warmup", "0", "--duration", "3", "--tag", "lbc"},
                      "");
  // They reach a too (leastconn alternates between servers as loaded as
  // each other) before it is stopped.
  REQUIRE_MESSAGE(poll_until(5, [&] { return server_metric(a, "parley_connections_accepted_total") >= a_accepted + 4; }),
                  "the connect cycles did not reach a");

  // SIGTERM a: its /readyz fails at once, and HAProxy takes it out of
  // rotation within a check or two.
  const auto term = Clock::now();
  REQUIRE(kill(a.pid(), SIGTERM) == 0);
  std::map<std::string, std::string> a_down;
  CHECK_MESSAGE(poll_until(2, [&] {
                  a_down = balancer.server_stats("parley", "a");
                  return a_down["status"].starts_with("DOWN");
                }),
                "HAProxy did not mark the draining server down");
  MESSAGE("a marked down after " << seconds_since(term) << " s (" << a_down["check_status"] << ")");
  CHECK(a_down["check_status"] == "L7STS");  // /readyz said 503: not a dead port

  // a tells every client `shutdown`, waits the grace, closes the rest over
  // the window, and exits 0.
  CHECK(a.wait_exit(static_cast<int>((grace_s + window_s + 5) * 1000)) == 0);
  const double drained_after = seconds_since(term);
  MESSAGE("a drained and exited after " << drained_after << " s");
  CHECK(drained_after < grace_s + window_s + 1.5);

  // The cycles carried on through the drain: each connect HAProxy made
  // meanwhile reached a server that served it (a refused one is retried on
  // b), and the cycles a told to go came back later. No error but
  // `shutdown`/`shutting_down`.
  const BenchRun cycle_run = finish_bench(cycles, 30000);
  {
    INFO(cycle_run.output);
    check_bench_clean(cycle_run);
    CHECK(cycle_run.result["cycles"].get<long>() > 0);
    MESSAGE("connect cycles: " << cycle_run.result["cycles"] << ", reconnects " << cycle_run.result["reconnects"]);
  }

  // Every idle client came back, to b: HAProxy sent a no connection after
  // it marked it down, and b serves them all (the cycles are over).
  CHECK_MESSAGE(poll_until(5, [&] { return server_metric(b, "parley_users") == clients; }),
                "b has " << server_metric(b, "parley_users") << " of " << clients << " users");
  CHECK(balancer.server_stats("parley", "a")["stot"] == a_down["stot"]);
  {
    Client late(balancer.address());
    CHECK(late.call({{"cmd", "hello"}, {"nick", "late"}})["ok"] == true);
  }

  const BenchRun run = finish_bench(idle, 30000);
  INFO(run.output);
  check_bench_clean(run);  // no error but `shutdown`/`shutting_down`, no connection lost unannounced
  const json& reconnects = run.result["reconnects"];
  CHECK(reconnects["after_shutdown"] == static_cast<long>(on_a));  // every client of a, and only those
  CHECK(reconnects["after_loss"] == 0);

  const std::string a_log = a.log();
  INFO("a's log:\n" << a_log);
  // The idle clients and the cycles it held then.
  const long draining = draining_connections(a_log);
  CHECK(draining >= static_cast<long>(on_a));
  CHECK(draining <= static_cast<long>(on_a) + 2);
  CHECK(a_log.find("drained in ") != std::string::npos);
  CHECK(b.log().find("fatal") == std::string::npos);
  CHECK(b.running());
}

// nginx's stream proxy has no active health checks (those are NGINX Plus):
// it learns that a server drains when a connect is refused, marks it failed
// (max_fails=1) and passes the connection on to the next server
// (proxy_next_upstream, on by default). The clients must not notice, and
// nginx's error log must say so.
TEST_CASE("two parleyd behind nginx's stream proxy: one drains, its clients come back through nginx to the other") {
  constexpr int clients = 100;
  const std::vector<std::string> flags{"--listen",      "127.0.0.1:0,proxy", "--trusted-proxy", "127.0.0.0/8",
                                       "--admin",       "127.0.0.1:0",       "--drain-grace",   "0.5",
                                       "--drain-window", "1",                "--shutdown-retry-ms", "600"};
  ServerProcess a(flags), b(flags);
  NginxStream nginx(deploy_nginx_stream(a, b));
  INFO("nginx.conf:\n" << nginx.config());

  ChildProcess bench({program("PARLEY_BENCH"), "idle", "--conns", std::to_string(clients), "--reconnect",
                      "--server", nginx.address(), "--json", "--duration", "5", "--setup-timeout", "10",
                      "--tag", "ngx"},
                     "");
  REQUIRE_MESSAGE(poll_until(10, [&] { return server_metric(a, "parley_users") + server_metric(b, "parley_users") == clients; }),
                  "the clients did not all register through nginx");
  const double on_a = server_metric(a, "parley_users");
  CHECK(on_a > clients / 4);  // least_conn spread them
  CHECK(server_metric(b, "parley_users") > clients / 4);

  const auto term = Clock::now();
  REQUIRE(kill(a.pid(), SIGTERM) == 0);
  CHECK(a.wait_exit(8000) == 0);
  MESSAGE("a drained and exited after " << seconds_since(term) << " s");
  CHECK_MESSAGE(poll_until(5, [&] { return server_metric(b, "parley_users") == clients; }),
                "b has " << server_metric(b, "parley_users") << " of " << clients << " users");

  const BenchRun run = finish_bench(bench, 30000);
  INFO(run.output);
  check_bench_clean(run);
  CHECK(run.result["reconnects"]["after_shutdown"] == static_cast<long>(on_a));
  CHECK(run.result["reconnects"]["after_loss"] == 0);
  CHECK(a.log().find("drained in ") != std::string::npos);
  CHECK(b.log().find("fatal") == std::string::npos);
  CHECK(b.log().find("connected through proxy") != std::string::npos);

  // What docs/deploy.md says nginx logs: a client sent to a after it closed
  // its listener was refused (as often as connects raced the first
  // refusal), a was disabled for fail_timeout, and b never failed. The
  // clients came back within the poll above, so the lines are written.
  const std::string log = nginx.error_log();
  INFO("nginx's error log:\n" << log);
  const std::string upstream_a = "upstream: \"" + a.address() + "\"";
  CHECK(lines_with(log, {"connect() failed (111: Connection refused) while connecting to upstream", upstream_a}) >= 1);
  CHECK(lines_with(log, {"upstream server temporarily disabled", upstream_a}) >= 1);
  CHECK(lines_with(log, {"upstream: \"" + b.address() + "\""}) == 0);
}
