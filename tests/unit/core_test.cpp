#include <algorithm>
#include <string>

#include <doctest/doctest.h>

#include "parley/chat/core.hpp"
#include "parley/protocol/request.hpp"
#include "wire.hpp"

using namespace parley;
using parley::test::Json;

namespace {

// An outcome as the client would read it: the reply written with its
// request's id and each event written, both parsed back.
struct Said {
  struct Sent {
    Recipients to;
    Json event;
    const Json& event_json() const { return event; }
  };
  Json reply;
  const Json& reply_json() const { return reply; }
  std::vector<Sent> deliveries;
  bool close = false;
  std::optional<Error> fatal;
  bool ack = false;  // the reply is the typed ChatAck of a `say` or `msg`
};

Said as_said(const RequestId& id, const Outcome& out) {
  Said said{parley::test::written(id, out.reply), {}, out.close, out.fatal,
            std::holds_alternative<ChatAck>(out.reply)};
  for (const Delivery& d : out.deliveries) said.deliveries.push_back({d.to, parley::test::written(d.event)});
  return said;
}

// The core runs the line as the hub would: the chat part goes in, the id
// stays for the reply.
Said run(Core& core, ConnId conn, std::string_view line, std::int64_t now) {
  Request request = parse_request(line, core.limits());
  const Outcome out = core.handle(conn, std::move(static_cast<ChatRequest&>(request)), now);
  return as_said(request.id, out);
}

Said drop(Core& core, ConnId conn, std::string_view reason) { return as_said({}, core.disconnect(conn, reason)); }

Limits test_limits() {
  Limits l;
  l.max_text = 16;
  l.history = 3;
  l.max_channels = 2;
  return l;
}

struct Chat {
  explicit Chat(Limits limits = test_limits(), ServerInfo info = {}) : core(limits, std::move(info)) {}

  Core core;
  std::int64_t now = 1000;

  Said send(ConnId conn, std::string_view line) { return run(core, conn, line, ++now); }

  // A connected, registered user.
  ConnId user(ConnId conn, const std::string& nick) {
    core.connect(conn);
    REQUIRE(send(conn, R"({"cmd":"hello","nick":")" + nick + "\"}").reply["ok"] == true);
    return conn;
  }

  Json join(ConnId conn, const std::string& channel) {
    Said o = send(conn, R"({"cmd":"join","channel":")" + channel + "\"}");
    REQUIRE(o.reply["ok"] == true);
    return o.reply;
  }
};

std::string code(const Said& o) {
  REQUIRE(o.reply["ok"] == false);
  return o.reply["error"]["code"].get<std::string>();
}

std::vector<ConnId> sorted(std::vector<ConnId> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("before hello only hello, ping and quit are accepted") {
  Chat chat;
  chat.core.connect(1);
  CHECK(code(chat.send(1, R"({"cmd":"join","channel":"#a"})")) == "not_registered");
  CHECK(code(chat.send(1, R"({"cmd":"join"})")) == "not_registered");
  CHECK(code(chat.send(1, R"({"cmd":"list","id":4})")) == "not_registered");
  CHECK(chat.send(1, R"({"cmd":"list","id":4})").reply["id"] == 4);
  CHECK(code(chat.send(1, R"({"cmd":"nope"})")) == "not_registered");  // "anything else", unknown ones too
  CHECK(code(chat.send(1, "{")) == "bad_json");
  CHECK(chat.send(1, R"({"cmd":"ping","id":"p"})").reply == Json::parse(R"({"ok":true,"id":"p"})"));
  Said quit = chat.send(1, R"({"cmd":"quit"})");
  CHECK(quit.reply["ok"] == true);
  CHECK(quit.close);
  CHECK(chat.core.session_count() == 0);
}

TEST_CASE("hello registers once, nicks unique ignoring ASCII case") {
  Chat chat;
  chat.core.connect(1);
  Said o = chat.send(1, R"({"cmd":"hello","nick":"Alice","id":1})");
  CHECK(o.reply["ok"] == true);
  CHECK(o.reply["id"] == 1);
  CHECK(o.reply["nick"] == "Alice");
  CHECK(o.reply["server"]["name"] == "parley");
  CHECK(o.reply["server"]["protocol"] == 1);
  CHECK(o.reply["limits"]["max_text"] == 16);
  CHECK(o.reply["limits"]["max_channels"] == 2);
  CHECK(o.reply["limits"]["max_line"] == 65536);
  CHECK(code(chat.send(1, R"({"cmd":"hello","nick":"bob"})")) == "already_registered");
  chat.core.connect(2);
  CHECK(code(chat.send(2, R"({"cmd":"hello","nick":"aLICE"})")) == "nick_in_use");
  CHECK(code(chat.send(2, R"({"cmd":"hello","nick":"-x"})")) == "invalid_nick");
  CHECK(chat.send(2, R"({"cmd":"hello","nick":"bob"})").reply["ok"] == true);
}

TEST_CASE("hello with a configured token: auth_failed unless it matches") {
  ServerInfo info;
  info.auth_token = "s3cret";
  Chat chat(test_limits(), info);
  chat.core.connect(1);
  CHECK(code(chat.send(1, R"({"cmd":"hello","nick":"a"})")) == "auth_failed");
  CHECK(code(chat.send(1, R"({"cmd":"hello","nick":"a","token":"nope"})")) == "auth_failed");
  CHECK(chat.send(1, R"({"cmd":"hello","nick":"a","token":"s3cret"})").reply["ok"] == true);
}

TEST_CASE("join: reply with members sorted, topic, seq, epoch; join event to the others") {
  Chat chat;
  chat.user(1, "carol");
  chat.user(2, "Bob");
  chat.user(3, "alice");
  Json first = chat.join(1, "#Room");
  CHECK(first["channel"] == "#Room");
  CHECK(first["topic"] == nullptr);
  CHECK(first["members"] == Json::parse(R"(["carol"])"));
  CHECK(first["seq"] == 0);
  CHECK(first["epoch"].is_string());
  Said o = chat.send(2, R"({"cmd":"join","channel":"#room"})");
  CHECK(o.reply["channel"] == "#Room");
  CHECK(o.reply["members"] == Json::parse(R"(["Bob","carol"])"));
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{1});
  CHECK(o.deliveries[0].event == Json::parse(R"({"event":"join","channel":"#Room","nick":"Bob"})"));
  o = chat.send(3, R"({"cmd":"join","channel":"#ROOM"})");
  CHECK(o.reply["members"] == Json::parse(R"(["alice","Bob","carol"])"));
  CHECK(sorted(o.deliveries[0].to.ids()) == std::vector<ConnId>{1, 2});
  SUBCASE("joining again is a no-op with the same reply") {
    Said again = chat.send(3, R"({"cmd":"join","channel":"#room"})");
    CHECK(again.deliveries.empty());
    CHECK(again.reply["members"] == o.reply["members"]);
  }
}

TEST_CASE("too_many_channels at the per-user cap") {
  Chat chat;
  chat.user(1, "a");
  chat.join(1, "#1");
  chat.join(1, "#2");
  CHECK(code(chat.send(1, R"({"cmd":"join","channel":"#3"})")) == "too_many_channels");
  chat.join(1, "#2");  // rejoining is still fine
  CHECK(chat.core.channel_count() == 2);
}

TEST_CASE("say: seq grows per channel, reply to the sender, message to the others") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "b");
  chat.join(1, "#x");
  chat.join(2, "#x");
  Said o = chat.send(1, R"({"cmd":"say","channel":"#X","text":"hi","id":"s1"})");
  CHECK(o.ack);
  CHECK(o.reply_json() == Json{{"ok", true}, {"id", "s1"}, {"channel", "#x"}, {"seq", 1}, {"ts", chat.now}});
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{2});
  CHECK(o.deliveries[0].event_json() ==
        Json{{"event", "message"}, {"channel", "#x"}, {"from", "a"}, {"text", "hi"}, {"seq", 1}, {"ts", chat.now}});
  CHECK(chat.send(2, R"({"cmd":"say","channel":"#x","text":"yo"})").reply_json()["seq"] == 2);
  CHECK(code(chat.send(1, R"({"cmd":"say","channel":"#nope","text":"x"})")) == "no_such_channel");
  chat.user(3, "c");
  CHECK(code(chat.send(3, R"({"cmd":"say","channel":"#x","text":"x"})")) == "not_in_channel");
  CHECK(code(chat.send(1, R"({"cmd":"say","channel":"#x","text":"12345678901234567"})")) == "text_too_long");
  CHECK(code(chat.send(1, R"({"cmd":"say","channel":"bad name","text":"x"})")) == "invalid_channel");
}

TEST_CASE("a lone member's say has no deliveries but still counts seq") {
  Chat chat;
  chat.user(1, "a");
  chat.join(1, "#x");
  Said o = chat.send(1, R"({"cmd":"say","channel":"#x","text":"echo"})");
  CHECK(o.deliveries.empty());
  CHECK(o.reply_json()["seq"] == 1);
}

TEST_CASE("msg: to one user by nick, no channel field") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "Bee");
  Said o = chat.send(1, R"({"cmd":"msg","to":"bee","text":"psst","id":7})");
  CHECK(o.reply_json() == Json{{"ok", true}, {"id", 7}, {"to", "Bee"}, {"ts", chat.now}});
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{2});
  CHECK(o.deliveries[0].event_json() ==
        Json{{"event", "message"}, {"from", "a"}, {"to", "Bee"}, {"text", "psst"}, {"ts", chat.now}});
  CHECK(code(chat.send(1, R"({"cmd":"msg","to":"nobody","text":"x"})")) == "no_such_nick");
  CHECK(code(chat.send(1, R"({"cmd":"msg","to":"bee"})")) == "bad_request");
}

TEST_CASE("part: reply, part event with optional reason, channel vanishes when empty") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "b");
  chat.join(1, "#x");
  chat.join(2, "#x");
  chat.send(1, R"({"cmd":"say","channel":"#x","text":"one"})");
  Said o = chat.send(1, R"({"cmd":"part","channel":"#x","reason":"later"})");
  CHECK(o.reply["channel"] == "#x");
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{2});
  CHECK(o.deliveries[0].event == Json{{"event", "part"}, {"channel", "#x"}, {"nick", "a"}, {"reason", "later"}});
  CHECK(code(chat.send(1, R"({"cmd":"part","channel":"#x"})")) == "not_in_channel");
  Json old_epoch = chat.join(1, "#x")["epoch"];
  o = chat.send(2, R"({"cmd":"part","channel":"#x"})");
  CHECK_FALSE(o.deliveries[0].event.contains("reason"));
  chat.send(1, R"({"cmd":"part","channel":"#x"})");
  CHECK(chat.core.channel_count() == 0);
  CHECK(code(chat.send(1, R"({"cmd":"part","channel":"#x"})")) == "no_such_channel");
  Json again = chat.join(1, "#x");
  CHECK(again["seq"] == 0);
  CHECK(again["epoch"] != old_epoch);
}

TEST_CASE("nick: rename, event once to every user sharing a channel") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "b");
  chat.user(3, "loner");
  chat.join(1, "#x");
  chat.join(1, "#y");
  chat.join(2, "#x");
  chat.join(2, "#y");
  Said o = chat.send(1, R"({"cmd":"nick","nick":"Zed"})");
  CHECK(o.reply["nick"] == "Zed");
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{2});
  CHECK(o.deliveries[0].event == Json{{"event", "nick"}, {"old", "a"}, {"new", "Zed"}});
  CHECK(code(chat.send(2, R"({"cmd":"nick","nick":"zED"})")) == "nick_in_use");
  CHECK(chat.send(3, R"({"cmd":"msg","to":"zed","text":"x"})").reply_json()["to"] == "Zed");
  CHECK(code(chat.send(3, R"({"cmd":"msg","to":"a","text":"x"})")) == "no_such_nick");
  CHECK(chat.send(1, R"({"cmd":"members","channel":"#x"})").reply["members"] == Json::parse(R"(["b","Zed"])"));
  SUBCASE("same nick is a no-op; a case change is a rename") {
    CHECK(chat.send(1, R"({"cmd":"nick","nick":"Zed"})").deliveries.empty());
    Said c = chat.send(1, R"({"cmd":"nick","nick":"zed"})");
    CHECK(c.reply["nick"] == "zed");
    CHECK(c.deliveries.size() == 1);
  }
  SUBCASE("the old nick is free again") {
    CHECK(chat.send(3, R"({"cmd":"nick","nick":"A"})").reply["ok"] == true);
  }
}

TEST_CASE("topic: query, set, clear with empty string") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "b");
  chat.user(3, "c");
  chat.join(1, "#x");
  chat.join(2, "#x");
  Said o = chat.send(1, R"({"cmd":"topic","channel":"#x","topic":"news"})");
  CHECK(o.reply["topic"] == "news");
  REQUIRE(o.deliveries.size() == 1);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{2});
  CHECK(o.deliveries[0].event == Json{{"event", "topic"}, {"channel", "#x"}, {"nick", "a"}, {"topic", "news"}});
  CHECK(chat.send(3, R"({"cmd":"topic","channel":"#x"})").reply["topic"] == "news");
  CHECK(code(chat.send(3, R"({"cmd":"topic","channel":"#x","topic":"mine"})")) == "not_in_channel");
  CHECK(chat.join(2, "#x")["topic"] == "news");
  o = chat.send(2, R"({"cmd":"topic","channel":"#x","topic":""})");
  CHECK(o.reply["topic"] == nullptr);
  CHECK(o.deliveries[0].event["topic"] == nullptr);
  CHECK(code(chat.send(1, R"({"cmd":"topic","channel":"#none"})")) == "no_such_channel");
}

TEST_CASE("list and members are sorted by lowercase name") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "B");
  chat.join(1, "#b");
  chat.join(1, "#A");
  chat.join(2, "#b");
  chat.send(1, R"({"cmd":"topic","channel":"#b","topic":"t"})");
  Said o = chat.send(2, R"({"cmd":"list"})");
  CHECK(o.reply["channels"] == Json::parse(R"([{"channel":"#A","members":1,"topic":null},
                                               {"channel":"#b","members":2,"topic":"t"}])"));
  CHECK(chat.send(2, R"({"cmd":"members","channel":"#B"})").reply ==
        Json::parse(R"({"ok":true,"channel":"#b","members":["a","B"]})"));
  CHECK(code(chat.send(2, R"({"cmd":"members","channel":"#z"})")) == "no_such_channel");
}

TEST_CASE("history: needs membership, bounded, newest by default, catch-up with after") {
  Chat chat;  // history 3
  chat.user(1, "a");
  chat.join(1, "#x");
  for (int i = 1; i <= 5; ++i)
    chat.send(1, R"({"cmd":"say","channel":"#x","text":"m)" + std::to_string(i) + "\"}");
  Said o = chat.send(1, R"({"cmd":"history","channel":"#x"})");
  CHECK(o.reply["epoch"] == chat.join(1, "#x")["epoch"]);
  CHECK(o.reply["truncated"] == false);
  REQUIRE(o.reply["messages"].size() == 3);
  CHECK(o.reply["messages"][0]["seq"] == 3);
  CHECK(o.reply["messages"][0]["text"] == "m3");
  CHECK(o.reply["messages"][0]["from"] == "a");
  CHECK(o.reply["messages"][0]["ts"].is_number_integer());
  o = chat.send(1, R"({"cmd":"history","channel":"#x","after":1,"limit":2})");
  CHECK(o.reply["truncated"] == true);
  CHECK(o.reply["messages"].size() == 2);
  CHECK(o.reply["messages"][1]["seq"] == 4);
  chat.user(2, "b");
  CHECK(code(chat.send(2, R"({"cmd":"history","channel":"#x"})")) == "not_in_channel");
}

TEST_CASE("disconnect: quit event once to every user sharing a channel, state cleaned up") {
  Chat chat;
  chat.user(1, "a");
  chat.user(2, "b");
  chat.user(3, "c");
  chat.join(1, "#x");
  chat.join(1, "#y");
  chat.join(2, "#x");
  chat.join(2, "#y");
  chat.join(3, "#y");
  Said o = drop(chat.core, 1, "connection closed");
  REQUIRE(o.deliveries.size() == 1);
  CHECK(sorted(o.deliveries[0].to.ids()) == std::vector<ConnId>{2, 3});
  CHECK(o.deliveries[0].event == Json{{"event", "quit"}, {"nick", "a"}, {"reason", "connection closed"}});
  CHECK(chat.core.user_count() == 2);
  CHECK(chat.send(2, R"({"cmd":"members","channel":"#x"})").reply["members"] == Json::parse(R"(["b"])"));
  o = chat.send(2, R"({"cmd":"quit","reason":"bye"})");
  CHECK(o.close);
  CHECK(o.deliveries[0].to.ids() == std::vector<ConnId>{3});
  CHECK(o.deliveries[0].event["reason"] == "bye");
  drop(chat.core, 3, "x");
  CHECK(chat.core.channel_count() == 0);
  CHECK(chat.core.session_count() == 0);
  CHECK(drop(chat.core, 3, "twice").deliveries.empty());
}

TEST_CASE("rate limit: a burst, then rate_limited with retry_ms, then refilled") {
  Limits limits = test_limits();
  limits.rate = {10, 3};  // 10 per second, bursts of 3
  Chat chat(limits);
  chat.core.connect(1);
  chat.now = 0;
  for (int i = 0; i < 3; ++i) CHECK(run(chat.core, 1, R"({"cmd":"ping"})", 1000).reply["ok"] == true);
  Said limited = run(chat.core, 1, R"({"cmd":"hello","nick":"x","id":4})", 1000);
  CHECK(code(limited) == "rate_limited");
  CHECK(limited.reply["id"] == 4);
  CHECK(limited.reply["error"]["retry_ms"] == 100);
  CHECK(chat.core.nick_of(1) == std::nullopt);  // not executed
  CHECK(code(run(chat.core, 1, "{", 1050)) == "rate_limited");
  CHECK(run(chat.core, 1, R"({"cmd":"hello","nick":"x"})", 1100).reply["ok"] == true);
  // Idle time refills up to the burst, not beyond.
  for (int i = 0; i < 3; ++i) CHECK(run(chat.core, 1, R"({"cmd":"ping"})", 60000).reply["ok"] == true);
  CHECK(code(run(chat.core, 1, R"({"cmd":"ping"})", 60000)) == "rate_limited");
}

TEST_CASE("flood limit: refused requests in a row past --flood-limit end in a fatal rate_limited") {
  Limits limits = test_limits();
  limits.rate = {10, 1};
  limits.flood_limit = 3;
  Chat chat(limits);
  chat.core.connect(1);
  const std::string ping = R"({"cmd":"ping"})";
  CHECK(run(chat.core, 1, ping, 1000).reply["ok"] == true);
  for (int i = 0; i < 3; ++i) {  // refused, but not yet flooding
    Said o = run(chat.core, 1, ping, 1000);
    CHECK(code(o) == "rate_limited");
    CHECK_FALSE(o.fatal);
  }
  // One accepted request starts the count again.
  CHECK(run(chat.core, 1, ping, 1100).reply["ok"] == true);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(run(chat.core, 1, ping, 1100).fatal);
  Said last = run(chat.core, 1, ping, 1100);
  CHECK(code(last) == "rate_limited");  // the request still gets its reply
  REQUIRE(last.fatal);
  CHECK(last.fatal->code == ErrorCode::rate_limited);
  // 0 never closes.
  limits.flood_limit = 0;
  Chat patient(limits);
  patient.core.connect(1);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(run(patient.core, 1, ping, 1000).fatal);
}

TEST_CASE("rate limit: 0 means unlimited; each connection has its own bucket") {
  Limits limits = test_limits();
  limits.rate = {0, 1};
  Chat unlimited(limits);
  unlimited.core.connect(1);
  for (int i = 0; i < 100; ++i) CHECK(run(unlimited.core, 1, R"({"cmd":"ping"})", 5).reply["ok"] == true);
  limits.rate = {1, 1};
  Chat own(limits);
  own.core.connect(1);
  own.core.connect(2);
  CHECK(run(own.core, 1, R"({"cmd":"ping"})", 5).reply["ok"] == true);
  CHECK(run(own.core, 2, R"({"cmd":"ping"})", 5).reply["ok"] == true);
  CHECK(code(run(own.core, 1, R"({"cmd":"ping"})", 5)) == "rate_limited");
}

TEST_CASE("a request from a connection the core never saw is answered internal") {
  Chat chat;
  Said o = chat.send(42, R"({"cmd":"ping","id":1})");
  CHECK(code(o) == "internal");
  CHECK(o.reply["id"] == 1);
}
