// Every command of protocol v1 end to end, with its events and error codes.
#include <sys/socket.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

TEST_CASE("join, say, part, quit between three users") {
  ServerProcess server;
  Client a(server.address()), b(server.address()), c(server.address());
  a.hello("ann");
  b.hello("Ben");
  c.hello("cat");
  json joined = a.join("#Lobby");
  CHECK(joined["channel"] == "#Lobby");
  CHECK(joined["members"] == json::parse(R"(["ann"])"));
  CHECK(joined["topic"] == nullptr);
  CHECK(joined["seq"] == 0);
  CHECK(joined["epoch"].is_string());
  CHECK(b.join("#lobby")["members"] == json::parse(R"(["ann","Ben"])"));
  CHECK(a.wait_event("join") == json::parse(R"({"event":"join","channel":"#Lobby","nick":"Ben"})"));
  c.join("#LOBBY");
  a.wait_event("join");
  b.wait_event("join");

  json said = a.call({{"cmd", "say"}, {"channel", "#lobby"}, {"text", "h\u00e9llo \"x\"\n"}});
  CHECK(said["seq"] == 1);
  CHECK(said["ts"].is_number_integer());
  for (Client* other : {&b, &c}) {
    json m = other->wait_event("message");
    CHECK(m["channel"] == "#Lobby");
    CHECK(m["from"] == "ann");
    CHECK(m["text"] == "h\u00e9llo \"x\"\n");
    CHECK(m["seq"] == 1);
    CHECK(m["ts"] == said["ts"]);
  }
  CHECK(b.call({{"cmd", "say"}, {"channel", "#lobby"}, {"text", "two"}})["seq"] == 2);
  CHECK(a.wait_event("message")["seq"] == 2);
  CHECK(c.wait_event("message")["seq"] == 2);

  CHECK(c.call({{"cmd", "part"}, {"channel", "#lobby"}, {"reason", "lunch"}})["channel"] == "#Lobby");
  CHECK(a.wait_event("part") == json::parse(R"({"event":"part","channel":"#Lobby","nick":"cat","reason":"lunch"})"));
  CHECK(b.wait_event("part")["nick"] == "cat");
  CHECK(c.call({{"cmd", "say"}, {"channel", "#lobby"}, {"text", "x"}})["error"]["code"] == "not_in_channel");

  CHECK(b.call({{"cmd", "quit"}, {"reason", "bye"}})["ok"] == true);
  CHECK(b.wait_closed());
  CHECK(a.wait_event("quit") == json::parse(R"({"event":"quit","nick":"Ben","reason":"bye"})"));
  // One log line per connect and per disconnect, with the reason.
  const std::string log = server.log();
  CHECK(log.find(" info conn=2 peer=127.0.0.1:") != std::string::npos);
  CHECK(log.find(" connected\n") != std::string::npos);
  CHECK(log.find(" disconnected: quit\n") != std::string::npos);
  CHECK(log.find("say") == std::string::npos);  // nothing per message
}

TEST_CASE("msg, nick, topic, list, members, ping") {
  ServerProcess server;
  Client a(server.address()), b(server.address()), c(server.address());
  a.hello("ann");
  b.hello("bob");
  c.hello("cy");
  a.join("#t");
  b.join("#t");
  a.wait_event("join");

  json sent = a.call({{"cmd", "msg"}, {"to", "BOB"}, {"text", "psst"}});
  CHECK(sent["to"] == "bob");
  json dm = b.wait_event("message");
  CHECK(dm["from"] == "ann");
  CHECK(dm["to"] == "bob");
  CHECK(dm["text"] == "psst");
  CHECK_FALSE(dm.contains("channel"));
  CHECK(a.call({{"cmd", "msg"}, {"to", "nobody"}, {"text", "x"}})["error"]["code"] == "no_such_nick");

  CHECK(a.call({{"cmd", "nick"}, {"nick", "Anna"}})["nick"] == "Anna");
  CHECK(b.wait_event("nick") == json::parse(R"({"event":"nick","old":"ann","new":"Anna"})"));
  CHECK(c.call({{"cmd", "nick"}, {"nick", "anna"}})["error"]["code"] == "nick_in_use");

  CHECK(b.call({{"cmd", "topic"}, {"channel", "#t"}, {"topic", "plans"}})["topic"] == "plans");
  CHECK(a.wait_event("topic") == json::parse(R"({"event":"topic","channel":"#t","nick":"bob","topic":"plans"})"));
  CHECK(c.call({{"cmd", "topic"}, {"channel", "#t"}})["topic"] == "plans");
  CHECK(c.call({{"cmd", "topic"}, {"channel", "#t"}, {"topic", "x"}})["error"]["code"] == "not_in_channel");
  CHECK(a.call({{"cmd", "topic"}, {"channel", "#t"}, {"topic", ""}})["topic"] == nullptr);
  CHECK(b.wait_event("topic")["topic"] == nullptr);

  c.join("#a");
  json list = c.call({{"cmd", "list"}});
  CHECK(list["channels"] == json::parse(R"([{"channel":"#a","members":1,"topic":null},
                                            {"channel":"#t","members":2,"topic":null}])"));
  CHECK(c.call({{"cmd", "members"}, {"channel", "#T"}})["members"] == json::parse(R"(["Anna","bob"])"));
  CHECK(c.call({{"cmd", "members"}, {"channel", "#zz"}})["error"]["code"] == "no_such_channel");
  json pong = c.call({{"cmd", "ping"}});
  CHECK(pong["ok"] == true);
  CHECK(pong.size() == 2);  // ok and id, nothing else
}

TEST_CASE("history: newest page, before, after with truncated, epoch") {
  ServerProcess server({"--history", "5"});
  Client a(server.address());
  a.hello("a");
  json joined = a.join("#h");
  for (int i = 1; i <= 8; ++i) a.call({{"cmd", "say"}, {"channel", "#h"}, {"text", "m" + std::to_string(i)}});
  json page = a.call({{"cmd", "history"}, {"channel", "#h"}, {"limit", 3}});
  CHECK(page["epoch"] == joined["epoch"]);
  CHECK(page["truncated"] == false);
  REQUIRE(page["messages"].size() == 3);
  CHECK(page["messages"][0] == json{{"seq", 6}, {"ts", page["messages"][0]["ts"]}, {"from", "a"}, {"text", "m6"}});
  CHECK(page["messages"][2]["seq"] == 8);
  page = a.call({{"cmd", "history"}, {"channel", "#h"}, {"before", 6}});
  CHECK(page["messages"].size() == 2);  // 4 and 5; 1-3 fell out
  page = a.call({{"cmd", "history"}, {"channel", "#h"}, {"after", 1}, {"limit", 2}});
  CHECK(page["truncated"] == true);
  CHECK(page["messages"][0]["seq"] == 4);
  CHECK(page["messages"][1]["seq"] == 5);
  page = a.call({{"cmd", "history"}, {"channel", "#h"}, {"after", 5}});
  CHECK(page["truncated"] == false);
  CHECK(page["messages"].size() == 3);
  CHECK(a.call({{"cmd", "history"}, {"channel", "#h"}, {"limit", 501}})["error"]["code"] == "bad_request");
  // The channel empties and comes back: a new epoch, seq from 1 again.
  a.call({{"cmd", "part"}, {"channel", "#h"}});
  json again = a.join("#h");
  CHECK(again["epoch"] != joined["epoch"]);
  CHECK(again["seq"] == 0);
}

TEST_CASE("every reply error code reachable from a client") {
  ServerProcess server({"--max-channels", "1", "--max-text", "10"});
  Client c(server.address());
  auto code = [&](const json& request) { return c.call(request)["error"]["code"].get<std::string>(); };
  c.send_raw("{not json\n");
  CHECK(c.next()["error"]["code"] == "bad_json");
  c.send_raw("[1,2]\n");
  CHECK(c.next()["error"]["code"] == "bad_request");
  CHECK(code({{"cmd", "frobnicate"}}) == "not_registered");  // before hello, anything but hello, ping, quit
  CHECK(code({{"cmd", "list"}}) == "not_registered");
  c.hello("me");
  CHECK(code({{"cmd", "frobnicate"}}) == "unknown_command");
  CHECK(code({{"cmd", "hello"}, {"nick", "me2"}}) == "already_registered");
  CHECK(code({{"cmd", "nick"}, {"nick", "-no"}}) == "invalid_nick");
  CHECK(code({{"cmd", "join"}, {"channel", "no spaces"}}) == "invalid_channel");
  CHECK(code({{"cmd", "join"}}) == "bad_request");
  CHECK(code({{"cmd", "say"}, {"channel", "#none"}, {"text", "x"}}) == "no_such_channel");
  c.join("#one");
  CHECK(code({{"cmd", "join"}, {"channel", "#two"}}) == "too_many_channels");
  CHECK(code({{"cmd", "say"}, {"channel", "#one"}, {"text", "01234567890"}}) == "text_too_long");
  CHECK(code({{"cmd", "msg"}, {"to", "ghost"}, {"text", "x"}}) == "no_such_nick");
  Client other(server.address());
  other.hello("other");
  other.call({{"cmd", "join"}, {"channel", "#one"}});  // over its own cap? no: 1 allowed
  CHECK(other.call({{"cmd", "part"}, {"channel", "#one"}})["ok"] == true);
  CHECK(other.call({{"cmd", "history"}, {"channel", "#one"}})["error"]["code"] == "not_in_channel");
  // Requests with a bad id are answered without one.
  c.send_raw("{\"cmd\":\"ping\",\"id\":{\"a\":1}}\n");
  json bad_id = c.next_reply();
  CHECK(bad_id["error"]["code"] == "bad_request");
  CHECK_FALSE(bad_id.contains("id"));
  c.send_raw("{\"cmd\":\"ping\",\"id\":\"str\"}\n");
  CHECK(c.next_reply() == json::parse(R"({"ok":true,"id":"str"})"));
}

TEST_CASE("a connection closed without quit sends quit with reason 'connection closed'") {
  ServerProcess server;
  Client a(server.address());
  a.enter("stays", "#c");
  {
    Client b(server.address());
    b.enter("leaves", "#c");
    a.wait_event("join");
  }
  CHECK(a.wait_event("quit") == json::parse(R"({"event":"quit","nick":"leaves","reason":"connection closed"})"));
  CHECK(a.call({{"cmd", "members"}, {"channel", "#c"}})["members"] == json::parse(R"(["stays"])"));
}

TEST_CASE("abrupt close (RST) in the middle of a broadcast") {
  ServerProcess server;
  Client a(server.address()), b(server.address());
  a.hello("talker");
  b.hello("rude");
  a.join("#r");
  b.join("#r");
  for (int i = 0; i < 200; ++i) a.send({{"cmd", "say"}, {"channel", "#r"}, {"text", std::string(500, 'x')}});
  b.reset();
  CHECK(a.wait_event("quit", 10000)["nick"] == "rude");
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}
