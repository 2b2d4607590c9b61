// The `parley` client coming back by itself: through a proxy the test cuts
// (the server holds the session, the client resumes and shows what it
// missed once), across a drain onto a new server (nothing to resume: it
// joins again), and not at all after `replaced` or with --no-reconnect.
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "cut_proxy.hpp"
#include "harness.hpp"

using namespace parley::test;

namespace {

// The client as `nick` at `address`, its stdin a pipe the test types into.
ChildProcess typing_parley(const std::string& nick, const std::string& address,
                           std::vector<std::string> flags = {}) {
  std::vector<std::string> argv = {program("PARLEY"), "--nick", nick};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(address);
  return ChildProcess(argv, "", true);
}

void say(Client& c, const std::string& channel, const std::string& text) {
  REQUIRE(c.call({{"cmd", "say"}, {"channel", channel}, {"text", text}})["ok"] == true);
}

}  // namespace

TEST_CASE("parley: a lost connection is resumed; what was said meanwhile prints once, in order") {
  ServerProcess server({"--resume-grace", "30"});
  CutProxy proxy(server.address(), "client-resume-proxy");
  Client bob(server.address());
  bob.enter("bob", "#t");
  ChildProcess parley = typing_parley("alice", proxy.address());
  parley.write_input("/join #t\n");
  REQUIRE(parley.wait_output("] * joined #t (alice, bob)\n"));
  say(bob, "#t", "before");
  REQUIRE(parley.wait_output("] <bob> before\n"));

  proxy.cut();  // the server sees a drop and holds alice's session
  REQUIRE(parley.wait_output("* reconnecting in "));
  say(bob, "#t", "missed one");
  say(bob, "#t", "missed two");
  parley.write_input("typed while away\n");
  REQUIRE(parley.wait_output("* not connected: typed lines are sent once reconnected"));
  proxy.restore();

  REQUIRE(parley.wait_output("* reconnected as alice, session resumed\n", 1, 10000));
  CHECK(bob.wait_event("message")["text"] == "typed while away");  // the queued line, after the resume
  say(bob, "#t", "after");
  REQUIRE(parley.wait_output("] <bob> after\n"));
  parley.write_input("/quit\n");
  parley.close_input();
  CHECK(parley.wait() == 0);
  const std::string& out = parley.output();
  INFO(out);
  check_in_order(out, {"<bob> before\n", "* reconnected as alice, session resumed\n",
                       "-- missed while disconnected: #t --\n", "<bob> missed one\n", "<bob> missed two\n",
                       "<alice> typed while away\n", "<bob> after\n"});
  for (const char* line : {"<bob> before\n", "<bob> missed one\n", "<bob> missed two\n", "<bob> after\n"})
    CHECK_MESSAGE(count_of(out, line) == 1, line);
  // Nobody was told anything of the drop: the only event since is alice's quit.
  CHECK(bob.wait_event("quit")["nick"] == "alice");
  for (const json& e : bob.events) CHECK(e["event"] != "join");
}

TEST_CASE("parley: after a drain it reconnects to the new server on the same path and joins again") {
  const std::string path = temp_socket_path("client-rejoin");
  const std::vector<std::string> args = {"--listen", "unix:" + path, "--resume-grace", "30",
                                         "--drain-grace", "0", "--drain-window", "0", "--shutdown-retry-ms", "200"};
  auto first = std::make_unique<ServerProcess>(args);
  ChildProcess parley = typing_parley("alice", "unix:" + path);
  parley.write_input("/join #t\n");
  REQUIRE(parley.wait_output("] * joined #t (alice)\n"));
  CHECK(first->stop(SIGTERM) == 0);
  first.reset();
  REQUIRE(parley.wait_output("] * server is shutting down ("));
  ServerProcess second(args);  // a new server: it knows no session

  REQUIRE(parley.wait_output("* reconnected as alice, as a new session; joining #t again\n", 1, 15000));
  REQUIRE(parley.wait_output("] * joined #t (alice)\n", 2));
  Client bob(second.address());
  CHECK(bob.enter("bob", "#t")["members"] == json::array({"alice", "bob"}));
  say(bob, "#t", "hi again");
  REQUIRE(parley.wait_output("] <bob> hi again\n"));
  parley.write_input("still here\n");  // the current channel is #t again
  CHECK(bob.wait_event("message")["text"] == "still here");
  parley.close_input();
  CHECK(parley.wait() == 0);
}

TEST_CASE("parley: replaced by another connection, it exits instead of taking the session back") {
  ServerProcess server({"--resume-grace", "30"});
  ChildProcess parley = typing_parley("alice", server.address(), {"--json"});
  REQUIRE(parley.wait_output("\"session\":\""));
  const std::string& out = parley.output();
  const std::size_t start = out.rfind('\n', out.find("\"session\":\"")) + 1;
  REQUIRE(parley.wait_output("\n", count_of(out.substr(0, start), "\n") + 1));
  const json welcome = json::parse(out.substr(start, out.find('\n', start) - start));
  Client thief(server.address());
  const json taken = thief.call({{"cmd", "hello"}, {"nick", "alice"}, {"resume", welcome["session"]}});
  CHECK(taken["resumed"] == true);
  CHECK(parley.wait() == 1);
  CHECK(parley.output().find("* another connection resumed this session; not reconnecting\n") != std::string::npos);
  CHECK(thief.call({{"cmd", "ping"}})["ok"] == true);  // it has the session, undisturbed
}

TEST_CASE("parley --no-reconnect: exits when the connection goes, as before") {
  ServerProcess server({"--resume-grace", "30"});
  ChildProcess parley = typing_parley("alice", server.address(), {"--no-reconnect"});
  parley.write_input("/join #t\n");
  REQUIRE(parley.wait_output("] * joined #t (alice)\n"));
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(parley.wait() == 1);  // its stdin is still open: it did not finish its script
  CHECK(parley.output().find("* connection closed by the server\n") != std::string::npos);
  CHECK(parley.output().find("reconnecting") == std::string::npos);
}
