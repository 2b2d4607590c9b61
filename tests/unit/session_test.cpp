// Sessions and resume in the chat core (../shared/protocol.md, "Sessions
// and resume"): a connection that closes without `quit` leaves its session
// held for the grace; `hello` with `resume` takes it over without an event.
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "parley/chat/core.hpp"
#include "parley/chat/session_token.hpp"
#include "parley/protocol/request.hpp"
#include "wire.hpp"

using namespace parley;
using parley::test::Json;

namespace {

struct Chat {
  explicit Chat(std::int64_t grace_ms = 15000, std::size_t max_held = 100000)
      : core(Limits{}, info(grace_ms, max_held)) {}

  static ServerInfo info(std::int64_t grace_ms, std::size_t max_held) {
    ServerInfo i;
    i.node = "node-a";
    i.resume_grace_ms = grace_ms;
    i.max_held_sessions = max_held;
    return i;
  }

  Core core;
  std::int64_t now = 1'000'000;
  Outcome last;

  Json send(ConnId conn, std::string_view line) {
    Request request = parse_request(line, core.limits());
    last = core.handle(conn, std::move(static_cast<ChatRequest&>(request)), ++now);
    CHECK(core.check_invariants() == "");
    return parley::test::written(request.id, last.reply);
  }
  Json hello(ConnId conn, const std::string& nick, const std::optional<std::string>& resume = std::nullopt) {
    core.connect(conn);
    Json h = {{"cmd", "hello"}, {"nick", nick}};
    if (resume) h["resume"] = *resume;
    return send(conn, h.dump());
  }
  std::string session(ConnId conn, const std::string& nick) {
    const Json welcome = hello(conn, nick);
    REQUIRE(welcome["ok"] == true);
    return welcome["session"].get<std::string>();
  }
  void join(ConnId conn, const std::string& channel) {
    REQUIRE(send(conn, R"({"cmd":"join","channel":")" + channel + "\"}")["ok"] == true);
  }
  void say(ConnId conn, const std::string& channel, const std::string& text) {
    REQUIRE(send(conn, R"({"cmd":"say","channel":")" + channel + R"(","text":")" + text + "\"}")["ok"] == true);
  }
  Outcome drop(ConnId conn, std::string_view reason = "connection closed") {
    Outcome out = core.disconnect(conn, reason, now);
    CHECK(core.check_invariants() == "");
    return out;
  }
};

// Who an outcome's events go to, the sender's exception applied.
std::vector<ConnId> recipients(const Outcome& out) {
  std::vector<ConnId> all;
  for (const Delivery& d : out.deliveries)
    for (ConnId id : d.to.ids()) all.push_back(id);
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

TEST_CASE("hello answers a session token, resumed false, and names the node and its features") {
  Chat chat;
  const Json welcome = chat.hello(1, "alice");
  REQUIRE(welcome["ok"] == true);
  const std::string token = welcome["session"].get<std::string>();
  CHECK(token.size() == 32);  // 128 bits in hex: at most 64 bytes, as the contract says
  CHECK(std::all_of(token.begin(), token.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }));
  CHECK(welcome["resumed"] == false);
  CHECK_FALSE(welcome.contains("channels"));
  CHECK(welcome["server"]["node"] == "node-a");
  CHECK(welcome["server"]["features"] == Json::array({"resume"}));
  CHECK(chat.session(2, "bob") != token);
}

TEST_CASE("a closed connection's session is held: no event, nick taken, still a member, history goes on") {
  Chat chat;
  chat.session(1, "alice");
  chat.session(2, "bob");
  chat.join(1, "#r");
  chat.join(2, "#r");
  CHECK(chat.drop(1).deliveries.empty());  // nobody is told
  CHECK(chat.core.held_count() == 1);
  CHECK(chat.hello(3, "ALICE")["error"]["code"] == "nick_in_use");
  CHECK(chat.send(2, R"({"cmd":"members","channel":"#r"})")["members"] == Json::array({"alice", "bob"}));
  chat.say(2, "#r", "while away");
  CHECK(recipients(chat.last).empty());  // alice's old connection is nobody now
  CHECK(chat.send(2, R"({"cmd":"history","channel":"#r"})")["messages"].size() == 1);
}

TEST_CASE("hello with resume takes a held session over: same nick and channels, no event, channels with seq") {
  Chat chat;
  const std::string token = chat.session(1, "alice");
  chat.session(2, "bob");
  chat.join(1, "#zed");
  chat.join(1, "#abc");
  chat.join(2, "#abc");
  chat.drop(1);
  chat.say(2, "#abc", "one");
  chat.say(2, "#abc", "two");

  const Json welcome = chat.hello(5, "Alice", token);  // nick compared case-insensitively
  REQUIRE(welcome["ok"] == true);
  CHECK(chat.last.deliveries.empty());
  CHECK_FALSE(chat.last.replaced);
  CHECK(welcome["resumed"] == true);
  CHECK(welcome["nick"] == "alice");
  CHECK(welcome["session"] == token);
  REQUIRE(welcome["channels"].size() == 2);
  CHECK(welcome["channels"][0]["channel"] == "#abc");  // sorted by name
  CHECK(welcome["channels"][0]["seq"] == 2);
  CHECK(welcome["channels"][0].contains("epoch"));
  CHECK(welcome["channels"][1]["channel"] == "#zed");
  CHECK(chat.core.held_count() == 0);

  // The new connection is the member now: it gets what is said from here on.
  chat.say(2, "#abc", "three");
  CHECK(recipients(chat.last) == std::vector<ConnId>{5});
  // And it catches up from history.
  const Json missed = chat.send(5, R"({"cmd":"history","channel":"#abc","after":0})");
  CHECK(missed["messages"].size() == 3);
  // The grace that was running is forgotten.
  chat.now += 60'000;
  CHECK(chat.core.expire(chat.now).deliveries.empty());
  CHECK(chat.core.nick_of(5) == "alice");
}

TEST_CASE("resuming a session whose connection is still open replaces that connection, quietly") {
  Chat chat;
  const std::string token = chat.session(1, "alice");
  chat.session(2, "bob");
  chat.join(1, "#r");
  chat.join(2, "#r");
  const Json welcome = chat.hello(3, "alice", token);
  CHECK(welcome["resumed"] == true);
  REQUIRE(chat.last.replaced);
  CHECK(*chat.last.replaced == 1);
  CHECK(chat.last.deliveries.empty());
  // The replaced connection's close, when the hub reports it, is nobody's quit.
  CHECK(chat.drop(1, "replaced").deliveries.empty());
  CHECK(chat.core.nick_of(3) == "alice");
  chat.say(2, "#r", "hi");
  CHECK(recipients(chat.last) == std::vector<ConnId>{3});
}

TEST_CASE("a resume that names no such session is a fresh registration") {
  Chat chat;
  const std::string alice = chat.session(1, "alice");
  chat.drop(1);
  // Another nick's token: registered fresh as bob.
  Json bob = chat.hello(2, "bob", alice);
  CHECK(bob["ok"] == true);
  CHECK(bob["resumed"] == false);
  CHECK(bob["session"] != alice);
  // An unknown token for a held nick: nick_in_use, as without resume.
  CHECK(chat.hello(3, "alice", std::string(32, '0'))["error"]["code"] == "nick_in_use");
  // A token of a session that ended with quit.
  Chat other;
  const std::string carol = other.session(1, "carol");
  other.send(1, R"({"cmd":"quit"})");
  Json again = other.hello(2, "carol", carol);
  CHECK(again["ok"] == true);
  CHECK(again["resumed"] == false);
}

TEST_CASE("when the grace runs out the held session quits once, with the reason it closed for") {
  Chat chat(2000);
  chat.session(1, "alice");
  chat.session(2, "bob");
  chat.join(1, "#r");
  chat.join(2, "#r");
  chat.drop(1, "slow_consumer");
  const std::int64_t closed = chat.now;
  CHECK(chat.core.next_expiry() == closed + 2000);
  CHECK(chat.core.expire(closed + 1999).deliveries.empty());
  const Outcome gone = chat.core.expire(closed + 2000);
  REQUIRE(gone.deliveries.size() == 1);
  CHECK(recipients(gone) == std::vector<ConnId>{2});
  const Json quit = parley::test::written(gone.deliveries[0].event);
  CHECK(quit == Json::parse(R"({"event":"quit","nick":"alice","reason":"slow_consumer"})"));
  CHECK(chat.core.expire(closed + 5000).deliveries.empty());  // once
  CHECK(chat.core.next_expiry() == std::nullopt);
  CHECK(chat.core.held_count() == 0);
  CHECK(chat.hello(3, "alice")["ok"] == true);  // the nick is free again
  CHECK(chat.core.check_invariants() == "");
}

TEST_CASE("quit ends a session at once, and with no grace a close does too") {
  Chat chat;
  chat.session(1, "alice");
  chat.session(2, "bob");
  chat.join(1, "#r");
  chat.join(2, "#r");
  chat.send(1, R"({"cmd":"quit","reason":"bye"})");
  CHECK(recipients(chat.last) == std::vector<ConnId>{2});
  CHECK(chat.core.held_count() == 0);
  CHECK(chat.drop(1).deliveries.empty());  // the hub's later report finds nothing

  Chat now(0);
  now.session(1, "alice");
  now.session(2, "bob");
  now.join(1, "#r");
  now.join(2, "#r");
  CHECK(recipients(now.drop(1)) == std::vector<ConnId>{2});
  CHECK(now.core.held_count() == 0);
}

TEST_CASE("a connection that never registered is not held") {
  Chat chat;
  chat.core.connect(1);
  CHECK(chat.drop(1).deliveries.empty());
  CHECK(chat.core.session_count() == 0);
  CHECK(chat.core.held_count() == 0);
}

TEST_CASE("session tokens: 32 hex digits each way, anything else names no session") {
  const SessionToken token = new_session_token();
  CHECK(new_session_token() != token);
  const std::string text = to_text(token);
  CHECK(text.size() == 32);
  CHECK(parse_session_token(text) == token);
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(parse_session_token(upper) == token);
  CHECK(to_text({0x0123456789abcdefull, 0xfedcba9876543210ull}) == "0123456789abcdeffedcba9876543210");
  CHECK_FALSE(parse_session_token(text.substr(1)));
  CHECK_FALSE(parse_session_token(text + "0"));
  CHECK_FALSE(parse_session_token(std::string(31, '0') + "g"));
  CHECK_FALSE(parse_session_token(""));
}

TEST_CASE("--max-held: past it the oldest held session ends at once, with its quit; the others stay resumable") {
  Chat chat(60000, 2);
  chat.hello(9, "watcher");
  chat.join(9, "#r");
  std::vector<std::string> sessions;
  for (ConnId c = 1; c <= 3; ++c) {
    sessions.push_back(chat.session(c, "u" + std::to_string(c)));
    chat.join(c, "#r");
  }
  CHECK(chat.drop(1).deliveries.empty());
  CHECK(chat.drop(2, "read_error").deliveries.empty());
  CHECK(chat.core.held_count() == 2);
  const Outcome third = chat.drop(3);
  REQUIRE(third.deliveries.size() == 1);
  CHECK(parley::test::written(third.deliveries[0].event) == Json::parse(R"({"event":"quit","nick":"u1","reason":"connection closed"})"));
  CHECK(recipients(third) == std::vector<ConnId>{9});
  CHECK(chat.core.held_count() == 2);
  CHECK(chat.hello(4, "u1", sessions[0])["resumed"] == false);  // ended: a fresh registration
  CHECK(chat.hello(5, "u2", sessions[1])["resumed"] == true);
  CHECK(chat.hello(6, "u3", sessions[2])["resumed"] == true);
  CHECK(chat.core.held_count() == 0);
}
