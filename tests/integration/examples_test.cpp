// The example clients in other languages, run against the real server.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <memory>

#include <doctest/doctest.h>

#include "cut_proxy.hpp"
#include "harness.hpp"

using namespace parley::test;

namespace {

void converse_with(const std::vector<std::string>& command_prefix, const std::string& nick) {
  ServerProcess server;
  Client host(server.address());
  host.enter("host", "#ex");
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {server.address(), nick, "#ex", "hello from " + nick});
  ChildProcess example(argv, "");
  CHECK(host.wait_event("join", 10000)["nick"] == nick);
  json said = host.wait_event("message", 10000);
  CHECK(said["from"] == nick);
  CHECK(said["text"] == "hello from " + nick);
  host.call({{"cmd", "say"}, {"channel", "#ex"}, {"text", "hi " + nick}});
  CHECK(example.wait() == 0);
  CHECK(example.output() == "<host> hi " + nick + "\n");
  CHECK(host.wait_event("quit")["nick"] == nick);
}

std::string examples_dir() { return program("EXAMPLES_DIR"); }

}  // namespace

TEST_CASE("the Python example client: register, join, say, receive") {
  converse_with({"python3", examples_dir() + "/client.py"}, "py");
}

TEST_CASE("the Node example client: register, join, say, receive") {
  converse_with({"node", examples_dir() + "/client.mjs"}, "node");
}

namespace {

// The example, through a proxy the test cuts, hears "one", misses "two" and
// "three" while cut off, resumes and prints them once, then hears "four".
void resume_through_cut(const std::vector<std::string>& command_prefix, const std::string& nick) {
  ServerProcess server({"--resume-grace", "30"});
  CutProxy proxy(server.address(), "example-" + nick);
  Client host(server.address());
  host.enter("host", "#ex");
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {proxy.address(), nick, "#ex", "hello from " + nick, "4"});
  ChildProcess example(argv, "");
  CHECK(host.wait_event("message", 10000)["text"] == "hello from " + nick);
  auto say = [&](const char* text) {
    REQUIRE(host.call({{"cmd", "say"}, {"channel", "#ex"}, {"text", text}})["ok"] == true);
  };
  say("one");
  REQUIRE(example.wait_output("<host> one\n", 1, 10000));
  proxy.cut();
  REQUIRE(example.wait_output("* reconnecting in "));
  say("two");
  say("three");
  proxy.restore();
  REQUIRE(example.wait_output("* session resumed\n", 1, 10000));
  REQUIRE(example.wait_output("<host> three\n"));
  say("four");
  CHECK(example.wait() == 0);
  const std::string& out = example.output();
  INFO(out);
  check_in_order(out, {"<host> one\n", "* session resumed\n", "-- missed while disconnected --\n", "<host> two\n",
                       "<host> three\n", "<host> four\n"});
  for (const char* line : {"<host> one\n", "<host> two\n", "<host> three\n", "<host> four\n"})
    CHECK_MESSAGE(count_of(out, line) == 1, line);
  CHECK(host.wait_event("quit")["nick"] == nick);
  for (const json& e : host.events) CHECK(e["event"] != "join");
}

}  // namespace

TEST_CASE("the Python example client: a lost connection is resumed and what it missed printed once") {
  resume_through_cut({"python3", examples_dir() + "/client.py"}, "py");
}

TEST_CASE("the Node example client: a lost connection is resumed and what it missed printed once") {
  resume_through_cut({"node", examples_dir() + "/client.mjs"}, "node");
}

namespace {

// The example, connected and joined, hears "before"; the server drains
// (`shutdown`, then `shutting_down` and close) and a new one starts on the
// same path. The example reconnects after retry_ms, finds no session to
// resume, registers and joins again, and prints "after", said on the new
// server, once.
void rejoin_after_drain(const std::vector<std::string>& command_prefix, const std::string& nick) {
  const std::string path = temp_socket_path("example-drain-" + nick);
  const std::vector<std::string> args = {"--listen", "unix:" + path, "--drain-grace", "0",
                                         "--drain-window", "0.2", "--shutdown-retry-ms", "200"};
  auto first = std::make_unique<ServerProcess>(args);
  Client host(first->address());
  host.enter("host", "#ex");
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {"unix:" + path, nick, "#ex", "hello from " + nick, "2"});
  ChildProcess example(argv, "");
  REQUIRE(host.wait_event("message", 10000)["text"] == "hello from " + nick);
  REQUIRE(host.call({{"cmd", "say"}, {"channel", "#ex"}, {"text", "before"}})["ok"] == true);
  REQUIRE(example.wait_output("<host> before\n", 1, 10000));

  CHECK(first->stop(SIGTERM) == 0);
  first.reset();
  REQUIRE(example.wait_output("* reconnecting in "));
  ServerProcess second(args);  // a new server: it knows no session
  REQUIRE(example.wait_output("* new session; joining #ex again\n", 1, 15000));
  Client host2(second.address());
  const json members = host2.enter("host", "#ex")["members"];
  if (std::find(members.begin(), members.end(), json(nick)) == members.end())
    CHECK(host2.wait_event("join", 10000)["nick"] == nick);
  REQUIRE(host2.call({{"cmd", "say"}, {"channel", "#ex"}, {"text", "after"}})["ok"] == true);
  CHECK(example.wait() == 0);
  const std::string& out = example.output();
  INFO(out);
  check_in_order(out, {"<host> before\n", "* reconnecting in ", "* new session; joining #ex again\n",
                       "<host> after\n"});
  for (const char* line : {"<host> before\n", "<host> after\n"}) CHECK_MESSAGE(count_of(out, line) == 1, line);
  CHECK(out.find("session resumed") == std::string::npos);
  CHECK(out.find("-- missed while disconnected --") == std::string::npos);
  CHECK(host2.wait_event("quit")["nick"] == nick);
}

}  // namespace

TEST_CASE("the Python example client: after a drain it registers and joins again on the new server") {
  rejoin_after_drain({"python3", examples_dir() + "/client.py"}, "py");
}

TEST_CASE("the Node example client: after a drain it registers and joins again on the new server") {
  rejoin_after_drain({"node", examples_dir() + "/client.mjs"}, "node");
}
