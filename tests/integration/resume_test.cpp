// Sessions and resume against the real parleyd: a connection that drops
// leaves its session held; a new connection resumes it with no event to
// anyone and catches up from history; an expired grace sends one `quit`;
// resuming over an open connection replaces it.
#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

json hello_resume(Client& c, const std::string& nick, const std::string& session) {
  return c.call({{"cmd", "hello"}, {"nick", nick}, {"resume", session}});
}

// No event reached `c` so far: a round trip whose reply comes first.
void check_nothing_arrived(Client& c) {
  const json reply = c.call({{"cmd", "ping"}});
  CHECK(reply["ok"] == true);
  CHECK(c.events.empty());
}

}  // namespace

TEST_CASE("resume after a dropped connection: same nick and channels, no event to others, history fills the gap") {
  ServerProcess server({"--resume-grace", "30"});
  Client alice(server.address()), bob(server.address());
  const json welcome = alice.hello("alice");
  REQUIRE(welcome["session"].is_string());
  CHECK(welcome["resumed"] == false);
  CHECK(welcome["server"]["features"][0] == "resume");  // then "cluster" in a cluster
  CHECK(welcome["server"]["node"].is_string());
  alice.join("#r");
  bob.enter("bob", "#r");
  const std::uint64_t seen = bob.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "before"}})["seq"];
  alice.wait_event("message");

  alice.reset();  // no quit: the session is held
  for (const char* text : {"missed one", "missed two"})
    REQUIRE(bob.call({{"cmd", "say"}, {"channel", "#r"}, {"text", text}})["ok"] == true);
  CHECK(bob.call({{"cmd", "members"}, {"channel", "#r"}})["members"] == json::array({"alice", "bob"}));

  Client back(server.address());
  const json resumed = hello_resume(back, "alice", welcome["session"]);
  REQUIRE(resumed["ok"] == true);
  CHECK(resumed["resumed"] == true);
  REQUIRE(resumed["channels"].size() == 1);
  CHECK(resumed["channels"][0]["channel"] == "#r");
  CHECK(resumed["channels"][0]["seq"] == seen + 2);
  const json page = back.call({{"cmd", "history"}, {"channel", "#r"}, {"after", seen}});
  REQUIRE(page["messages"].size() == 2);
  CHECK(page["messages"][0]["text"] == "missed one");
  CHECK(page["messages"][1]["text"] == "missed two");
  check_nothing_arrived(bob);  // neither quit nor join

  // The resumed connection is a member like any other.
  REQUIRE(bob.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "welcome back"}})["ok"] == true);
  CHECK(back.wait_event("message")["text"] == "welcome back");
}

TEST_CASE("an expired grace sends the quit once; the nick is free again") {
  ServerProcess server({"--resume-grace", "1"});
  Client alice(server.address()), bob(server.address());
  alice.enter("alice", "#g");
  bob.enter("bob", "#g");
  const auto closed = std::chrono::steady_clock::now();
  alice.reset();
  const json quit = bob.wait_event("quit", 10000);
  const auto after = std::chrono::steady_clock::now() - closed;
  CHECK(quit == json::parse(R"({"event":"quit","nick":"alice","reason":"connection closed"})"));
  CHECK(after >= std::chrono::milliseconds(900));  // not before the grace
  check_nothing_arrived(bob);                       // once
  Client again(server.address());
  CHECK(again.hello("alice")["resumed"] == false);
}

TEST_CASE("resuming over a connection still open replaces it with the fatal replaced, no quit") {
  ServerProcess server({"--resume-grace", "30"});
  Client first(server.address()), bob(server.address());
  const json welcome = first.hello("alice");
  first.join("#x");
  bob.enter("bob", "#x");
  Client second(server.address());
  CHECK(hello_resume(second, "ALICE", welcome["session"])["resumed"] == true);
  const json fatal = first.wait_event("error");
  CHECK(fatal["code"] == "replaced");
  CHECK(first.wait_closed());
  check_nothing_arrived(bob);
  REQUIRE(bob.call({{"cmd", "msg"}, {"to", "alice"}, {"text", "still there?"}})["ok"] == true);
  CHECK(second.wait_event("message")["text"] == "still there?");
}

TEST_CASE("quit ends the session at once; its token resumes nothing") {
  ServerProcess server({"--resume-grace", "30"});
  Client alice(server.address()), bob(server.address());
  const json welcome = alice.hello("alice");
  alice.join("#q");
  bob.enter("bob", "#q");
  alice.call({{"cmd", "quit"}, {"reason", "done"}});
  CHECK(bob.wait_event("quit")["reason"] == "done");
  Client again(server.address());
  CHECK(hello_resume(again, "alice", welcome["session"])["resumed"] == false);
}
