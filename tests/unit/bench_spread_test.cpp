// parley-bench over several servers: repeatable --server and --server-pid,
// and which server each connection starts on and moves to (spread.hpp).
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "options.hpp"
#include "spread.hpp"

using namespace parley::bench;

namespace {

Options parse(std::vector<std::string> args) {
  bool help = false;
  return parse_options(args, help);
}

// How many of `count` connections start on each server.
std::map<std::uint32_t, int> tally(Scenario s, std::size_t count, std::size_t publishers, std::size_t servers,
                                   std::size_t from = 0) {
  std::map<std::uint32_t, int> n;
  for (std::size_t i = from; i < count; ++i) ++n[first_server(s, i, publishers, servers)];
  return n;
}

}  // namespace

TEST_CASE("bench options: --server and --server-pid repeat; the first --server replaces the default") {
  CHECK(parse({"fanout"}).servers == std::vector<std::string>{"127.0.0.1:7667"});
  CHECK(parse({"fanout"}).server_pids.empty());
  const Options one = parse({"idle", "--server", "unix:/run/p.sock"});
  CHECK(one.servers == std::vector<std::string>{"unix:/run/p.sock"});
  const Options two = parse({"fanout", "--server", "127.0.0.1:7001", "--server=[::1]:7002", "--server-pid", "10",
                             "--server-pid=11", "--server-pid", "12"});
  CHECK(two.servers == std::vector<std::string>{"127.0.0.1:7001", "[::1]:7002"});
  CHECK(two.server_pids == std::vector<pid_t>{10, 11, 12});
  CHECK(servers_text(two) == "127.0.0.1:7001,[::1]:7002");
  CHECK(servers_text(parse({"idle"})) == "127.0.0.1:7667");
  CHECK_THROWS_AS(parse({"idle", "--server", ""}), UsageError);
  CHECK_THROWS_AS(parse({"idle", "--server-pid", "0"}), UsageError);
  CHECK_THROWS_AS(parse({"idle", "--server-pid", "x"}), UsageError);
  CHECK_THROWS_AS(parse({"idle", "--server"}), UsageError);
  // Traffic::settle holds a connection's servers as the bits of one word.
  std::vector<std::string> many = {"idle"};
  for (std::size_t i = 0; i < max_servers; ++i) many.insert(many.end(), {"--server", "unix:/s" + std::to_string(i)});
  CHECK(parse(many).servers.size() == max_servers);
  many.insert(many.end(), {"--server", "unix:/one-more"});
  CHECK_THROWS_AS(parse(many), UsageError);
}

TEST_CASE("bench --help documents several servers, where publishers go, and the summed processes") {
  const std::string help = usage_text();
  CHECK(help.find("Repeatable") != std::string::npos);
  CHECK(help.find("publishers go to the") != std::string::npos);
  CHECK(help.find("summed over every process") != std::string::npos);
  CHECK(help.find("resume") != std::string::npos);
}

TEST_CASE("bench spread: one server takes everything") {
  for (Scenario s : {Scenario::fanout, Scenario::rooms, Scenario::pairs, Scenario::idle, Scenario::connect,
                     Scenario::ramp})
    for (std::size_t i = 0; i < 50; ++i) CHECK(first_server(s, i, 3, 1) == 0);
  CHECK(next_server(0, 1) == 0);
  CHECK(next_server(0, 0) == 0);
}

TEST_CASE("bench spread: fanout puts the publishers on the first server, the subscribers on the others") {
  // 2 publishers (ids 0, 1), then 10 subscribers.
  for (Scenario s : {Scenario::fanout, Scenario::ramp}) {
    CHECK(first_server(s, 0, 2, 2) == 0);
    CHECK(first_server(s, 1, 2, 2) == 0);
    CHECK(tally(s, 12, 2, 2, 2) == std::map<std::uint32_t, int>{{1, 10}});  // all subscribers on B
    // Three servers: the subscribers alternate over the second and third.
    CHECK(tally(s, 12, 2, 3, 2) == std::map<std::uint32_t, int>{{1, 5}, {2, 5}});
    CHECK(first_server(s, 2, 2, 3) == 1);
    CHECK(first_server(s, 3, 2, 3) == 2);
    CHECK(first_server(s, 4, 2, 3) == 1);
  }
}

TEST_CASE("bench spread: rooms, pairs, idle and connect cycles go round robin, so rooms and pairs straddle servers") {
  CHECK(tally(Scenario::idle, 10, 1, 2) == std::map<std::uint32_t, int>{{0, 5}, {1, 5}});
  CHECK(tally(Scenario::connect, 9, 1, 3) == std::map<std::uint32_t, int>{{0, 3}, {1, 3}, {2, 3}});
  // Rooms of 4 members (ids 4r..4r+3) over two servers: each room has two on each.
  for (std::size_t room = 0; room < 5; ++room) {
    std::map<std::uint32_t, int> n;
    for (std::size_t i = 4 * room; i < 4 * room + 4; ++i) ++n[first_server(Scenario::rooms, i, 1, 2)];
    CHECK(n == std::map<std::uint32_t, int>{{0, 2}, {1, 2}});
  }
  // Pairs (ids 2p, 2p+1): the partners are on different servers.
  for (std::size_t p = 0; p < 5; ++p)
    CHECK(first_server(Scenario::pairs, 2 * p, 1, 2) != first_server(Scenario::pairs, 2 * p + 1, 1, 2));
}

TEST_CASE("bench spread: a reconnect moves to the next server, round robin") {
  CHECK(next_server(0, 2) == 1);
  CHECK(next_server(1, 2) == 0);
  CHECK(next_server(0, 3) == 1);
  CHECK(next_server(1, 3) == 2);
  CHECK(next_server(2, 3) == 0);
}
