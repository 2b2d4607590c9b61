// The load-balancer story end to end, on a cluster: a real redis-server set
// up as docs/deploy.md section 10 says, two parleyd with that section's
// cluster flags, and HAProxy with its config, all read out of the page.
// Under a parley-bench fanout load with --reconnect through HAProxy and
// three `parley` terminal clients, one instance is drained: every client
// resumes its session on the other, every acknowledged message reaches
// every member exactly once, nobody sees anyone quit, and the drained
// instance exits 0. Also parley-bench on the two instances directly, with
// several --server and --server-pid.
#include <signal.h>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "balancer.hpp"
#include "doc_blocks.hpp"
#include "harness.hpp"
#include "redis_server.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* redis_block = "# /etc/redis/redis.conf, the lines to change";
constexpr const char* parleyd_block = "# parleyd on a, in a cluster (on b: b's addresses and --node-id b)";
constexpr const char* haproxy_block = "# /etc/haproxy/haproxy.cfg, for a cluster";

// docs/deploy.md's redis.conf lines, every one but `bind` (the test's Redis
// listens where RedisServer put it), applied with CONFIG SET.
void configure_redis(RedisServer& redis) {
  int applied = 0;
  for (const std::string& line : lines_of(doc_block("docs/deploy.md", redis_block))) {
    if (line.empty() || line.starts_with("#") || line.starts_with("bind ")) continue;
    const std::size_t space = line.find(' ');
    REQUIRE_MESSAGE(space != std::string::npos, "not a redis.conf line: " << line);
    const std::string reply = redis.command({"CONFIG", "SET", line.substr(0, space), line.substr(space + 1)});
    REQUIRE_MESSAGE(reply == "OK", "CONFIG SET " << line << ": " << reply);
    ++applied;
  }
  CHECK(applied == 5);  // appendonly, appendfsync, maxmemory, maxmemory-policy, client-output-buffer-limit
  CHECK(redis.command({"CONFIG", "GET", "maxmemory-policy"}) == "maxmemory-policy\nnoeviction");
}

// docs/deploy.md's parleyd command for a cluster instance, as `node`: the
// addresses become the test's (127.0.0.1 with ports chosen at run time,
// the balancer on loopback, the test's Redis), and section 5's drain flags
// are added with short timings, as section 10 lists. `--resume-grace` is
// given its production default: ServerProcess would turn it off otherwise.
std::vector<std::string> cluster_flags(const RedisServer& redis, const std::string& node) {
  const std::string command = substitute(doc_block("docs/deploy.md", parleyd_block),
                                         {{"0.0.0.0:7667,proxy", "127.0.0.1:0,proxy"},
                                          {"192.0.2.10/32", "127.0.0.0/8"},
                                          {"--admin 192.0.2.11:7668", "--admin 127.0.0.1:0"},
                                          {"redis://192.0.2.20:6379", redis.tcp_url()},
                                          {"--node-id a", "--node-id " + node}});
  std::vector<std::string> words;
  for (const std::string& line : lines_of(command)) {
    if (line.starts_with("#")) continue;
    std::istringstream in(line);
    for (std::string word; in >> word;)
      if (word != "\\") words.push_back(word);
  }
  REQUIRE(!words.empty());
  REQUIRE(words.front() == "parleyd");
  words.erase(words.begin());
  words.insert(words.end(),
               {"--drain-grace", "0.5", "--drain-window", "1", "--shutdown-retry-ms", "1500", "--resume-grace", "15"});
  return words;
}

void wait_ready(const ServerProcess& server) {
  const std::string admin = server.admin_address();
  REQUIRE_MESSAGE(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000),
                  "/readyz did not say ready: the backplane did not come up");
}

// HAProxy's `show stat` says it checks `server` and finds it ready.
bool up(Balancer& balancer, const char* server) {
  auto s = balancer.server_stats("parley", server);
  return s["status"] == "UP" && s["check_status"] == "L7OK";
}

// The nicks of the registered connections a server holds now (/connz).
std::set<std::string> nicks_on(const ServerProcess& server) {
  const HttpResponse r = http_get(server.admin_address(), "/connz?limit=1000");
  REQUIRE(r.status == 200);
  const json page = json::parse(r.body);
  std::set<std::string> nicks;
  for (const json& c : page["connections"])
    if (c["nick"].is_string()) nicks.insert(c["nick"].get<std::string>());
  return nicks;
}

std::size_t count_prefixed(const std::set<std::string>& nicks, const std::string& prefix) {
  std::size_t n = 0;
  for (const std::string& nick : nicks) n += nick.starts_with(prefix);
  return n;
}


double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

TEST_CASE("a cluster behind HAProxy: one instance drains under load, every client resumes on the other, nothing lost") {
  constexpr double grace_s = 0.5, window_s = 1.0;
  constexpr int subscribers = 30, publishers = 2;
  RedisServer redis;
  configure_redis(redis);
  ServerProcess a(cluster_flags(redis, "a")), b(cluster_flags(redis, "b"));
  wait_ready(a);
  wait_ready(b);
  Balancer haproxy(deploy_haproxy_cfg(haproxy_block, a, &b));
  INFO("haproxy.cfg:\n" << haproxy.config());
  REQUIRE_MESSAGE(poll_until([&] { return up(haproxy, "a") && up(haproxy, "b"); }, 5000),
                  "HAProxy did not find both instances ready");

  // Three people in #ops, through HAProxy: leastconn puts them on both
  // instances (the first on one, the second on the other).
  const std::vector<std::string> people{"alice", "bob", "carol"};
  std::vector<std::unique_ptr<ChildProcess>> parley;
  for (const std::string& nick : people) {
    parley.push_back(
        std::make_unique<ChildProcess>(std::vector<std::string>{program("PARLEY"), "--nick", nick, haproxy.address()},
                                       "", true));
    parley.back()->write_input("/join #ops\n");
    REQUIRE(parley.back()->wait_output("] * joined #ops (", 1, 10000));
  }
  std::set<std::string> people_on_a;
  for (const std::string& nick : nicks_on(a))
    if (nick == "alice" || nick == "bob" || nick == "carol") people_on_a.insert(nick);
  REQUIRE_MESSAGE(!people_on_a.empty(), "leastconn put nobody on a");
  REQUIRE(people_on_a.size() < people.size());

  // The load: a fanout channel with its members on both instances, an
  // open-loop rate (it goes on while members move), riding out the drain.
  ChildProcess bench({program("PARLEY_BENCH"), "fanout", "--subscribers", std::to_string(subscribers), "--publishers",
                      std::to_string(publishers), "--rate", "300", "--reconnect", "--server", haproxy.address(),
                      "--json", "--warmup", "0", "--duration", "6", "--drain-timeout", "20", "--setup-timeout", "20",
                      "--tag", "lb"},
                     "");
  // Every member is in (polling the admin API: no event to await), and
  // messages are flowing.
  std::size_t bench_on_a = 0;
  REQUIRE_MESSAGE(poll_until(
                      [&] {
                        bench_on_a = count_prefixed(nicks_on(a), "lb_");
                        return bench_on_a + count_prefixed(nicks_on(b), "lb_") == subscribers + publishers;
                      },
                      20000),
                  "the bench's members did not all connect through HAProxy");
  const std::string says = "parley_requests_total{command=\"say\",result=\"ok\"}";
  REQUIRE(poll_until([&] { return server_metric(a, says) + server_metric(b, says) >= 20; }, 20000));
  CHECK(bench_on_a > 0);
  CHECK(bench_on_a < subscribers + publishers);
  MESSAGE(bench_on_a << " members and " << people_on_a.size() << " people on a");

  // SIGTERM a: HAProxy takes it out of rotation on its /readyz, its
  // clients are told `shutdown`, and it exits 0 once they are gone.
  const auto term = Clock::now();
  REQUIRE(kill(a.pid(), SIGTERM) == 0);
  CHECK_MESSAGE(poll_until([&] { return haproxy.server_stats("parley", "a")["status"].starts_with("DOWN"); }, 2000),
                "HAProxy did not mark the draining instance down");
  CHECK(a.wait_exit(static_cast<int>((grace_s + window_s + 5) * 1000)) == 0);
  const double drained_after = seconds_since(term);
  MESSAGE("a drained and exited after " << drained_after << " s");
  CHECK(drained_after < grace_s + window_s + 1.5);
  CHECK(a.log().find("drained in ") != std::string::npos);

  // The people who were on a came back through HAProxy to b and resumed.
  for (std::size_t i = 0; i < people.size(); ++i)
    if (people_on_a.contains(people[i]))
      CHECK_MESSAGE(parley[i]->wait_output("* reconnected as " + people[i] + ", session resumed\n", 1, 15000),
                    parley[i]->output());
  // Everyone talks, everyone hears everyone: the chat is whole on b.
  for (std::size_t i = 0; i < people.size(); ++i) {
    parley[i]->write_input(people[i] + " after the drain\n");
    for (std::size_t j = 0; j < people.size(); ++j)
      if (j != i)
        CHECK_MESSAGE(parley[j]->wait_output("<" + people[i] + "> " + people[i] + " after the drain\n", 1, 10000),
                      parley[j]->output());
  }
  for (const std::string& nick : people) CHECK(nicks_on(b).contains(nick));

  // The bench: clean, with exactly a's members reconnected and resumed.
  const BenchRun run = finish_bench(bench, 60000);
  INFO(run.output);
  check_bench_clean(run);
  const json& reconnects = run.result["reconnects"];
  CHECK(reconnects["total"] == static_cast<long>(bench_on_a));
  CHECK(reconnects["after_shutdown"] == static_cast<long>(bench_on_a));
  CHECK(reconnects["after_loss"] == 0);
  CHECK(reconnects["resumed"] == static_cast<long>(bench_on_a));
  CHECK(reconnects["not_resumed"] == 0);
  CHECK(run.result["correctness"]["quit_events"] == 0);
  CHECK(run.result["correctness"]["acked"].get<long>() > 0);
  // Members the drain window closed before their retry_ms was up were away
  // while the channel went on: they caught up from history. (Told between
  // 0.75 and 2.25 s, jittered again by the bench, most come back after the
  // window has closed them, 1.5 s in.)
  CHECK(run.result["catch_up"]["pages"].get<long>() > 0);
  CHECK(run.result["catch_up"]["messages"].get<long>() > 0);
  CHECK(run.result["catch_up"]["live_holes"] == 0);
  MESSAGE("bench: " << run.result["correctness"]["acked"] << " messages acknowledged, catch-up "
                    << run.result["catch_up"]);

  // Nobody's session ended: no `parley` printed anyone's quit (before the
  // people leave themselves, below).
  for (std::size_t i = 0; i < people.size(); ++i)
    CHECK_MESSAGE(parley[i]->output().find(" quit (") == std::string::npos, parley[i]->output());
  for (auto& p : parley) {
    p->write_input("/quit\n");
    p->close_input();
    CHECK(p->wait() == 0);
  }
  CHECK(b.running());
  CHECK(b.log().find("fatal") == std::string::npos);
}

TEST_CASE("parley-bench on a cluster's instances directly: publishers on the first, subscribers on the second") {
  RedisServer redis;
  const std::vector<std::string> common{"--cluster", redis.unix_url(), "--cluster-prefix", "direct", "--admin",
                                        "127.0.0.1:0", "--rate", "0"};
  auto flags = [&](const char* node) {
    std::vector<std::string> f = common;
    f.insert(f.end(), {"--node-id", node});
    return f;
  };
  ServerProcess a(flags("a")), b(flags("b"));
  wait_ready(a);
  wait_ready(b);
  const std::vector<std::string> targets{"--server", a.address(), "--server", b.address()};

  // fanout: both publishers on a, the ten subscribers on b, so every
  // message crosses the backplane; CPU and memory summed over a, b and Redis.
  std::vector<std::string> argv{program("PARLEY_BENCH"), "fanout", "--subscribers", "10", "--publishers", "2",
                                "--window", "4", "--json", "--warmup", "0", "--duration", "2", "--tag", "dir",
                                "--server-pid", std::to_string(a.pid()), "--server-pid", std::to_string(b.pid()),
                                "--server-pid", std::to_string(redis.pid())};
  argv.insert(argv.end(), targets.begin(), targets.end());
  ChildProcess fanout(argv, "");
  std::set<std::string> on_a, on_b;
  CHECK(poll_until(
      [&] {
        on_a = nicks_on(a);
        on_b = nicks_on(b);
        return on_a.size() + on_b.size() == 12;
      },
      10000));
  CHECK(on_a == std::set<std::string>{"dir_0", "dir_1"});
  CHECK(count_prefixed(on_b, "dir_") == 10);
  const BenchRun run = finish_bench(fanout, 30000);
  INFO(run.output);
  check_bench_clean(run);
  CHECK(run.result["address"] == a.address() + "," + b.address());
  CHECK(run.result["server"]["processes"] == 3);
  CHECK(run.result["server"]["rss_bytes"].get<long>() > 0);
  CHECK(run.result["deliveries"].get<long>() > 0);

  // rooms: every room has members on both instances (round robin).
  std::vector<std::string> rooms{"rooms", "--rooms", "3", "--members", "4", "--rate", "300", "--tag", "dr"};
  rooms.insert(rooms.end(), targets.begin(), targets.end());
  rooms.insert(rooms.end(), {"--json", "--warmup", "0.1", "--duration", "0.5"});
  check_bench_clean(run_bench(rooms, 30000));
}
