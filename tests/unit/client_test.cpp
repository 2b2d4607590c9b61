#include <doctest/doctest.h>

#include "parley/client/client.hpp"

using namespace parley::client;

TEST_CASE("client: typed lines become requests") {
  Session s;
  CHECK(interpret("hi", s).print.find("join a channel first") != std::string::npos);
  s.channel = "#a";
  CHECK(*interpret("hi there", s).request == json{{"cmd", "say"}, {"text", "hi there"}, {"channel", "#a"}});
  CHECK((*interpret("//slash", s).request)["text"] == "/slash");
  CHECK(*interpret("/join #b", s).request == json{{"cmd", "join"}, {"channel", "#b"}});
  CHECK(*interpret("/part", s).request == json{{"cmd", "part"}, {"channel", "#a"}});
  CHECK(*interpret("/msg bob  hello you", s).request == json{{"cmd", "msg"}, {"to", "bob"}, {"text", "hello you"}});
  CHECK(*interpret("/topic new one", s).request == json{{"cmd", "topic"}, {"topic", "new one"}, {"channel", "#a"}});
  CHECK_FALSE(interpret("/topic", s).request->contains("topic"));
  CHECK((*interpret("/who", s).request)["cmd"] == "members");
  CHECK((*interpret("/history 7", s).request)["limit"] == 7);
  CHECK_FALSE(interpret("/history 0", s).request);
  CHECK(*interpret("/raw {\"cmd\":\"list\"}", s).request == json{{"cmd", "list"}});
  CHECK(interpret("/raw {\"cmd\":\"list\"}", s).raw);
  CHECK_FALSE(interpret("/raw nope", s).request);
  Action quit = interpret("/quit gone fishing", s);
  CHECK(quit.quit);
  CHECK((*quit.request)["reason"] == "gone fishing");
  CHECK(interpret("/msg bob", s).print.starts_with("usage"));
  CHECK(interpret("/dance", s).print.find("unknown command") != std::string::npos);
}

TEST_CASE("client: replies update the session; events render with the time") {
  Session s;
  const std::time_t now = 0;
  const std::string t = clock_prefix(now);
  render_reply({{"cmd", "hello"}}, json::parse(R"({"ok":true,"nick":"me","server":{"name":"parley","version":"1"}})"), s, now);
  CHECK(s.nick == "me");
  CHECK(render_reply({{"cmd", "join"}}, json::parse(R"({"ok":true,"channel":"#A","members":["me","x"],"topic":"t"})"), s, now) ==
        t + "* joined #A (me, x)\n" + t + "* topic: t\n");
  CHECK(s.channel == "#A");
  CHECK(render_event(json::parse(R"({"event":"message","channel":"#A","from":"x","text":"yo"})"), s, now) ==
        t + "<x> yo\n");
  CHECK(render_event(json::parse(R"({"event":"message","channel":"#B","from":"x","text":"yo"})"), s, now) ==
        t + "#B <x> yo\n");
  CHECK(render_event(json::parse(R"({"event":"message","from":"x","to":"me","text":"dm"})"), s, now) == t + "*x* dm\n");
  CHECK(render_event(json::parse(R"({"event":"quit","nick":"x","reason":"bye"})"), s, now) == t + "* x quit (bye)\n");
  CHECK(render_event(json::parse(R"({"event":"ping"})"), s, now).empty());
  CHECK(render_reply({{"cmd", "say"}}, json::parse(R"({"ok":false,"error":{"code":"not_in_channel","message":"m"}})"), s, now) ==
        t + "! not_in_channel: m\n");
  render_reply({{"cmd", "part"}}, json::parse(R"({"ok":true,"channel":"#A"})"), s, now);
  CHECK(s.channel.empty());
}
