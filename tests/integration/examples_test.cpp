// The example clients in other languages, run against the real server.
#include <cstdlib>

#include <doctest/doctest.h>

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
