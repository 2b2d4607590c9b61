// Hostile input and faults against the real server: garbage, mutated
// requests, churn, 10,000 idle connections, a drain under load, and two
// identical bursts of load that must leave memory where it was.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <random>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;
using namespace std::string_literals;

namespace {

const std::set<std::string> reply_codes = {
    "bad_json",         "bad_request",    "unknown_command", "not_registered",    "already_registered",
    "invalid_nick",     "nick_in_use",    "invalid_channel", "no_such_channel",   "not_in_channel",
    "no_such_nick",     "text_too_long",  "too_many_channels", "rate_limited",    "auth_failed"};

// Sends `line` then a ping with `id`; the line must get exactly one reply
// (success or a contract error code), and the ping's reply must come next.
void check_one_reply(Client& c, const std::string& line, long long id) {
  c.send_raw(line + "\n{\"cmd\":\"ping\",\"id\":" + std::to_string(id) + "}\n");
  const json reply = c.next_reply(10000);
  INFO("line: " << json(line).dump(-1, ' ', true, json::error_handler_t::replace));
  REQUIRE(reply.is_object());
  if (reply["ok"] == false) CHECK(reply_codes.count(reply["error"]["code"].get<std::string>()) == 1);
  const json ping = c.next_reply(10000);
  CHECK(ping["id"] == id);
  CHECK(ping["ok"] == true);
}

std::string random_garbage(std::mt19937_64& rng) {
  std::string s;
  const std::size_t n = 1 + rng() % 200;
  for (std::size_t i = 0; i < n; ++i) {
    char c = static_cast<char>(rng() % 256);
    if (c == '\n') c = '\0';
    s.push_back(c);
  }
  if (s.find_first_not_of("\r") == std::string::npos) s = "\xff";  // an empty line would get no reply
  return s;
}

// A valid request of some kind, to be mutated.
std::string some_request(std::mt19937_64& rng) {
  static const std::vector<std::string> requests = {
      R"({"cmd":"hello","nick":"mut"})",
      R"({"cmd":"nick","nick":"other"})",
      R"({"cmd":"join","channel":"#m","key":"k"})",
      R"({"cmd":"part","channel":"#m","reason":"bye"})",
      R"({"cmd":"say","channel":"#m","text":"hello there"})",
      R"({"cmd":"msg","to":"mut","text":"\u00e9\ud83d\ude00"})",
      R"({"cmd":"topic","channel":"#m","topic":"news"})",
      R"({"cmd":"list","id":"x"})",
      R"({"cmd":"members","channel":"#m","id":12})",
      R"({"cmd":"history","channel":"#m","before":5,"after":1,"limit":20})",
      R"({"cmd":"ping","id":null})",
  };
  return requests[rng() % requests.size()];
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::string alphabet = "{}[]\":,\\ 0123456789-eE.tfnul\x01\x7f\xc3\xa9\xff";
  for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0 && !s.empty(); --edits) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 3) {
      case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
      case 1: s.erase(at, 1 + rng() % 3); break;
      default: s.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
    }
  }
  if (s.find_first_not_of("\r") == std::string::npos) s = "x";
  return s;
}

// One churn cycle on a raw socket: hello, join, wait for both replies, then
// leave by `quit` (how 0), by closing (1) or by a RST (2).
bool churn_cycle(const std::string& address, const std::string& nick, const std::string& channel, int how) {
  const int fd = connect_socket(address);
  if (fd < 0) return false;
  const std::string requests = "{\"cmd\":\"hello\",\"nick\":\"" + nick + "\"}\n{\"cmd\":\"join\",\"channel\":\"" +
                               channel + "\"}\n";
  bool ok = write(fd, requests.data(), requests.size()) == static_cast<ssize_t>(requests.size());
  std::string got;
  int replies = 0;
  while (ok && replies < 2) {
    pollfd p{fd, POLLIN, 0};
    char buffer[4096];
    if (poll(&p, 1, 10000) != 1) break;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
    replies = 0;
    for (auto at = got.find("{\"ok\":true"); at != std::string::npos; at = got.find("{\"ok\":true", at + 1)) ++replies;
  }
  ok = ok && replies == 2;
  if (how == 0) ok = ok && write(fd, "{\"cmd\":\"quit\"}\n", 15) == 15;
  if (how == 2) {
    linger hard{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  close(fd);
  return ok;
}

}  // namespace

TEST_CASE("garbage: random bytes, deep nesting, huge numbers, surrogate halves; one reply per line") {
  ServerProcess server({"--max-line", "300000", "--rate", "0"});
  Client c(server.address());
  std::mt19937_64 rng(4);
  long long id = 0;
  for (int i = 0; i < 300; ++i) check_one_reply(c, random_garbage(rng), ++id);
  check_one_reply(c, std::string(100000, '[') + std::string(100000, ']'), ++id);
  std::string deep_object;
  for (int i = 0; i < 20000; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(20000, '}');
  check_one_reply(c, deep_object, ++id);
  for (const std::string& line : {R"({"cmd":"history","channel":"#x","limit":1e400})"s,
                                  R"({"cmd":"history","channel":"#x","limit":123456789012345678901234567890})"s,
                                  R"({"cmd":"history","channel":"#x","limit":-99999999999999999999})"s,
                                  R"({"cmd":"ping","id":18446744073709551616})"s,
                                  R"({"cmd":"hello","nick":"\ud800"})"s, R"({"cmd":"hello","nick":"\udc00x"})"s,
                                  R"({"cmd":"hello","nick":"\ud800\u0041"})"s,
                                  "{\"cmd\":\"hello\",\"nick\":\"\xed\xa0\x80\"}"s,
                                  "{\"cmd\":\"ping\"}\0{\"cmd\":\"ping\"}"s})
    check_one_reply(c, line, ++id);
  // Still serving, and memory did not grow with what it was sent.
  Client other(server.address());
  CHECK(other.call({{"cmd", "ping"}})["ok"] == true);
  if (!sanitized_build()) CHECK(server.rss_kb() < 64 * 1024);
}

TEST_CASE("5,000 mutated requests pipelined on one connection: one reply each, in order") {
  ServerProcess server({"--rate", "0"});
  Client c(server.address());
  std::mt19937_64 rng(5000);
  int answered = 0;
  for (int chunk = 0; chunk < 10; ++chunk) {
    // 500 mutated lines, each followed by a ping whose id marks its place.
    std::string batch;
    const long long first = chunk * 500;
    for (long long id = first; id < first + 500; ++id)
      batch += mutate(some_request(rng), rng) + "\n{\"cmd\":\"ping\",\"id\":" + std::to_string(id) + "}\n";
    c.send_raw(batch);
    for (long long id = first; id < first + 500; ++id) {
      const json reply = c.next_reply(10000);
      REQUIRE(reply.is_object());
      if (reply["ok"] == false) CHECK_MESSAGE(reply_codes.count(reply["error"]["code"].get<std::string>()) == 1, reply.dump());
      // A mutated line may itself have become a ping with some id; the marker
      // ping is always the very next reply.
      const json marker = c.next_reply(10000);
      REQUIRE(marker["id"] == id);
      ++answered;
    }
  }
  CHECK(answered == 5000);
}

TEST_CASE("churn: 3,000 connect/hello/join/close cycles from 50 clients leave nothing behind") {
  ServerProcess server({"--rate", "0"});
  Client watcher(server.address());
  watcher.hello("watcher");
  const int baseline = server.open_fds();
  // Plain sockets in the threads: test assertions belong to the main thread.
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int t = 0; t < 50; ++t)
    clients.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i)
        if (!churn_cycle(server.address(), "u" + std::to_string(t) + "_" + std::to_string(i),
                         "#churn" + std::to_string(t % 5), i % 3))
          ++failures;
    });
  for (auto& t : clients) t.join();
  CHECK(failures == 0);
  // The server notices every close; wait (bounded) for its descriptors to drop back.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (server.open_fds() > baseline && std::chrono::steady_clock::now() < deadline)
    CHECK(watcher.call({{"cmd", "ping"}})["ok"] == true);  // one round trip per check, no sleeping
  CHECK(server.open_fds() == baseline);
  const json list = watcher.call({{"cmd", "list"}});
  CHECK(list["channels"].empty());
}

TEST_CASE("SIGTERM while 100 clients are in the middle of a broadcast: all get shutdown, exit 0 in time") {
  ServerProcess server({"--rate", "0", "--drain-timeout", "5"});
  std::vector<Client> members;
  for (int i = 0; i < 100; ++i) {
    members.emplace_back(server.address());
    members.back().enter("m" + std::to_string(i), "#b");
  }
  Client publisher(server.address());
  publisher.enter("pub", "#b");
  std::string says;
  for (int i = 0; i < 2000; ++i) says += R"({"cmd":"say","channel":"#b","text":"broadcast )" + std::to_string(i) + "\"}\n";
  publisher.send_raw(says);
  members.back().wait_event("message", 10000);  // the broadcast is under way
  const auto started = std::chrono::steady_clock::now();
  CHECK(server.stop(SIGTERM, 15000) == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(7));
  int got_shutdown = 0;
  for (Client& m : members) {
    m.wait_closed(10000);
    bool seen = false;
    for (const std::string& line : m.drained) seen = seen || line.find("\"event\":\"shutdown\"") != std::string::npos;
    for (const json& e : m.events) seen = seen || e["event"] == "shutdown";
    got_shutdown += seen;
  }
  CHECK(got_shutdown == 100);
}

TEST_CASE("10,000 idle registered connections: a ping still comes back promptly") {
  ServerProcess server({"--max-clients", "20000", "--max-conns-per-ip", "0"}, true, 12000);
  const BenchRun run = run_bench({"idle", "--conns", "10000", "--server", server.address(), "--server-pid",
                                  std::to_string(server.pid()), "--duration", "0.5", "--json", "--setup-timeout",
                                  "60"});
  INFO(run.output);
  REQUIRE(run.result.is_object());
  CHECK(run.status == 0);
  CHECK(run.result["correctness"]["errors"] == 0);
  CHECK(run.result["correctness"]["disconnects"] == 0);
  CHECK(run.result["latency_us"]["count"] == 200);
  CHECK(run.result["latency_us"]["max"].get<double>() < 1e6);  // every ping answered within a second
  if (!sanitized_build()) CHECK(run.result["server"]["rss_per_conn_bytes"].get<double>() < 4096);
}

TEST_CASE("two identical bursts of load: memory after the second is where the first left it") {
  if (sanitized_build()) return;  // ASan's allocator keeps freed memory; its leak checker covers this there
  ServerProcess server({"--rate", "0"});
  const std::vector<std::string> burst = {"rooms",    "--rooms",  "20",   "--members", "10",    "--window", "8",
                                          "--server", server.address(), "--duration", "1", "--warmup", "0.2",
                                          "--json",   "--tag",    "burst"};
  const BenchRun first = run_bench(burst);
  REQUIRE(first.status == 0);
  const long after_first = server.rss_kb();
  const BenchRun second = run_bench(burst);
  REQUIRE(second.status == 0);
  const long after_second = server.rss_kb();
  INFO("RSS after the first burst " << after_first << " KiB, after the second " << after_second << " KiB");
  CHECK(after_second <= after_first + after_first / 10 + 1024);
}
