// The example clients in other languages, run against the real server.
#include <cstdlib>

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
