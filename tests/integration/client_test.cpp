// The `parley` terminal client, driven by a script on its stdin.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("parley: a piped script runs every command and exits after the last reply") {
  ServerProcess server;
  Client bob(server.address());
  bob.enter("bob", "#t");
  ChildProcess parley({program("PARLEY"), "--nick", "alice", server.address()},
                      "/join #t\n"
                      "hello there\n"
                      "/topic plans for today\n"
                      "/who\n"
                      "/list\n"
                      "/msg bob psst\n"
                      "/history 5\n"
                      "/raw {\"cmd\":\"ping\"}\n"
                      "/nick alicia\n"
                      "/part\n"
                      "/frobnicate\n"
                      "/help\n");
  CHECK(parley.wait() == 0);
  const std::string& out = parley.output();
  CHECK(contains(out, "] * connected as alice to parley "));
  CHECK(contains(out, "] * joined #t (alice, bob)\n"));
  CHECK(contains(out, "] <alice> hello there\n"));
  CHECK(contains(out, "] * topic of #t: plans for today\n"));
  CHECK(contains(out, "] * #t: alice, bob\n"));
  CHECK(contains(out, "] * #t (2) plans for today\n"));
  CHECK(contains(out, "] -> *bob* psst\n"));
  CHECK(contains(out, "{\"id\":9,\"ok\":true}\n"));
  CHECK(contains(out, "] * you are now alicia\n"));
  CHECK(contains(out, "] * left #t\n"));
  CHECK(contains(out, "unknown command /frobnicate"));
  CHECK(contains(out, "/history [N]"));
  CHECK(bob.wait_event("message")["text"] == "hello there");
  CHECK(bob.wait_event("topic")["topic"] == "plans for today");
  CHECK(bob.wait_event("message")["to"] == "bob");
  CHECK(bob.wait_event("nick")["new"] == "alicia");
  CHECK(bob.wait_event("part")["nick"] == "alicia");
}

TEST_CASE("parley: events print readably with the time") {
  ServerProcess server;
  Client bob(server.address());
  bob.enter("bob", "#t");
  // alice joins, then waits (via a history round trip) while bob talks.
  ChildProcess parley({program("PARLEY"), "--nick", "alice", server.address()},
                      "/join #t\n/quit see you\n");
  CHECK(parley.wait() == 0);
  CHECK(contains(parley.output(), "] * joined #t (alice, bob)\n"));
  CHECK(bob.wait_event("join")["nick"] == "alice");
  CHECK(bob.wait_event("quit") == json::parse(R"({"event":"quit","nick":"alice","reason":"see you"})"));
}

TEST_CASE("parley --json prints every line as the server sent it") {
  ServerProcess server;
  ChildProcess parley({program("PARLEY"), "--json", "--nick", "j", server.address()}, "/list\n");
  CHECK(parley.wait() == 0);
  CHECK(contains(parley.output(), "{\"ok\":true,\"id\":1,\"nick\":\"j\""));
  CHECK(contains(parley.output(), "{\"ok\":true,\"id\":2,\"channels\":[]}\n"));
}

TEST_CASE("parley: a taken nick fails with status 1; a bad address with 2") {
  ServerProcess server;
  Client bob(server.address());
  bob.hello("bob");
  ChildProcess taken({program("PARLEY"), "--nick", "BOB", server.address()}, "");
  CHECK(taken.wait() == 1);
  CHECK(contains(taken.output(), "! nick_in_use"));
  ChildProcess bad({program("PARLEY"), "no-port"}, "");
  CHECK(bad.wait() == 2);
}
