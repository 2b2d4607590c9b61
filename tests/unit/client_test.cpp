#include <string>
#include <utility>
#include <vector>

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

namespace {

// Values no renderer expects anywhere: every type, and integers at the edges.
const std::vector<json> odd_values = {nullptr, true, -1, 18446744073709551615u, -9223372036854775807 - 1,
                                      1.5, "", "s", json::array(), json{1, "x"}, json::object(),
                                      json{{"x", 1}}};

// The JSON pointer of every value inside `value` (the root excluded).
void collect_pointers(const json& value, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  if (value.is_object())
    for (const auto& [key, inner] : value.items()) {
      out.push_back(at / key);
      collect_pointers(inner, at / key, out);
    }
  if (value.is_array())
    for (std::size_t i = 0; i < value.size(); ++i) {
      out.push_back(at / i);
      collect_pointers(value[i], at / i, out);
    }
}

// `sample` with one value removed or replaced by an odd one, for every value
// in it: every field a renderer reads goes missing or mistyped once.
std::vector<json> damaged(const json& sample) {
  std::vector<json::json_pointer> pointers;
  collect_pointers(sample, json::json_pointer(), pointers);
  std::vector<json> out;
  for (const auto& pointer : pointers) {
    json removed = sample;
    json& parent = removed[pointer.parent_pointer()];
    if (parent.is_object()) {
      parent.erase(pointer.back());
      out.push_back(removed);
    }
    for (const json& odd : odd_values) {
      json replaced = sample;
      replaced[pointer] = odd;
      out.push_back(replaced);
    }
  }
  return out;
}

// What any rendering must be: whole lines, or nothing where nothing is due.
void check_sane(const std::string& text, bool may_be_empty) {
  if (text.empty()) {
    CHECK(may_be_empty);
    return;
  }
  CHECK(text.back() == '\n');
}

}  // namespace

TEST_CASE("client: replies with any field missing or mistyped render without crashing") {
  const std::vector<std::pair<json, json>> samples = {
      {{{"cmd", "hello"}, {"nick", "me"}},
       json::parse(R"({"ok":true,"nick":"me","server":{"name":"parley","version":"1","protocol":1}})")},
      {{{"cmd", "nick"}, {"nick", "me2"}}, json::parse(R"({"ok":true,"nick":"me2"})")},
      {{{"cmd", "join"}, {"channel", "#a"}},
       json::parse(R"({"ok":true,"channel":"#A","members":["me","x"],"topic":"t","seq":0,"epoch":"e"})")},
      {{{"cmd", "part"}, {"channel", "#a"}}, json::parse(R"({"ok":true,"channel":"#A"})")},
      {{{"cmd", "say"}, {"channel", "#A"}, {"text", "hi"}},
       json::parse(R"({"ok":true,"channel":"#A","seq":3,"ts":1700000000000})")},
      {{{"cmd", "msg"}, {"to", "bob"}, {"text", "psst"}}, json::parse(R"({"ok":true,"to":"bob","ts":1700000000000})")},
      {{{"cmd", "topic"}, {"channel", "#A"}}, json::parse(R"({"ok":true,"channel":"#A","topic":"t"})")},
      {{{"cmd", "list"}}, json::parse(R"({"ok":true,"channels":[{"channel":"#a","members":1,"topic":"t"}]})")},
      {{{"cmd", "members"}, {"channel", "#A"}}, json::parse(R"({"ok":true,"channel":"#A","members":["a","b"]})")},
      {{{"cmd", "history"}, {"channel", "#A"}},
       json::parse(R"({"ok":true,"epoch":"e","truncated":true,
                       "messages":[{"seq":1,"ts":1700000000000,"from":"a","text":"x"}]})")},
      {{{"cmd", "join"}}, json::parse(R"({"ok":false,"error":{"code":"bad_request","message":"m","retry_ms":5}})")},
      {{{"cmd", "ping"}}, json::parse(R"({"ok":true,"id":1})")},
      {{{"x", 1}}, json::parse(R"({"ok":false,"error":{"code":"unknown_command","message":"m"}})")},
  };
  for (const auto& [request, reply] : samples) {
    for (const json& bad_reply : damaged(reply)) {
      INFO(request.dump() << " answered by " << bad_reply.dump());
      Session s;
      s.channel = "#A";
      s.joined = {"#A"};
      std::string out;
      CHECK_NOTHROW(out = render_reply(request, bad_reply, s, 0));
      check_sane(out, true);
    }
    for (const json& bad_request : damaged(request)) {
      INFO(bad_request.dump() << " answered by " << reply.dump());
      Session s;
      std::string out;
      CHECK_NOTHROW(out = render_reply(bad_request, reply, s, 0));
      check_sane(out, true);
    }
  }
  for (const json& not_an_object : odd_values) {
    Session s;
    std::string out;
    CHECK_NOTHROW(out = render_reply({{"cmd", "list"}}, not_an_object, s, 0));
    check_sane(out, false);
    CHECK_NOTHROW(out = render_reply(not_an_object, json::parse(R"({"ok":true})"), s, 0));
    check_sane(out, false);
  }
}

TEST_CASE("client: events with any field missing or mistyped render without crashing") {
  const std::vector<json> samples = {
      json::parse(R"({"event":"message","channel":"#A","from":"x","text":"yo","seq":1,"ts":1700000000000})"),
      json::parse(R"({"event":"message","from":"x","to":"me","text":"dm","ts":1700000000000})"),
      json::parse(R"({"event":"join","channel":"#A","nick":"x"})"),
      json::parse(R"({"event":"part","channel":"#A","nick":"x","reason":"lunch"})"),
      json::parse(R"({"event":"quit","nick":"x","reason":"bye"})"),
      json::parse(R"({"event":"nick","old":"a","new":"b"})"),
      json::parse(R"({"event":"topic","channel":"#A","nick":"x","topic":"t"})"),
      json::parse(R"({"event":"error","code":"idle_timeout","message":"m"})"),
      json::parse(R"({"event":"shutdown","reason":"server shutting down","retry_ms":1500})"),
      json::parse(R"({"event":"ping"})"),
  };
  Session s;
  s.channel = "#A";
  for (const json& sample : samples)
    for (const json& event : damaged(sample)) {
      INFO(event.dump());
      std::string out;
      CHECK_NOTHROW(out = render_event(event, s, 0));
      check_sane(out, event == json{{"event", "ping"}});
    }
  for (const json& not_an_object : odd_values) {
    std::string out;
    CHECK_NOTHROW(out = render_event(not_an_object, s, 0));
    CHECK(out == not_an_object.dump() + "\n");
  }
}

TEST_CASE("client: a missing or mistyped field renders as nothing, or the JSON is shown as it came") {
  const std::string t = clock_prefix(0);
  Session s;
  auto reply = [&](const json& request, const char* text) { return render_reply(request, json::parse(text), s, 0); };
  // Errors without a code, and an "ok" that is not true, are shown raw.
  CHECK(reply({{"cmd", "join"}}, R"({"ok":false})") == t + "! {\"ok\":false}\n");
  CHECK(reply({{"cmd", "join"}}, R"({"ok":false,"error":"boom"})") == t + "! {\"error\":\"boom\",\"ok\":false}\n");
  CHECK(reply({{"cmd", "list"}}, R"({"ok":"yes"})") == t + "! {\"ok\":\"yes\"}\n");
  CHECK(reply({{"cmd", "join"}}, R"({"ok":false,"error":{"code":"c","message":7}})") == t + "! c: \n");
  // hello and nick: a nick that is not a string is no nick.
  CHECK(reply({{"cmd", "hello"}}, R"({"ok":true,"nick":5,"server":"x"})") == t + "* connected as  to  \n");
  CHECK(s.nick.empty());
  // join: names that are not strings are shown as JSON; members that are no array, as none.
  CHECK(reply({{"cmd", "join"}}, R"({"ok":true,"channel":"#A","members":[1,"x"],"topic":5})") ==
        t + "* joined #A (1, x)\n");
  CHECK(reply({{"cmd", "join"}}, R"({"ok":true,"channel":"#A","members":"me"})") == t + "* joined #A ()\n");
  CHECK(reply({{"cmd", "members"}, {"channel", "#A"}}, R"({"ok":true,"channel":"#A"})") == t + "* #A: \n");
  CHECK(reply({{"cmd", "topic"}}, R"({"ok":true,"channel":"#A","topic":[]})") == t + "* topic of #A: (none)\n");
  // say and msg: a ts that is not an integer is now.
  CHECK(reply({{"cmd", "say"}, {"text", "hi"}}, R"({"ok":true,"channel":"#A","ts":"soon"})") == t + "<> hi\n");
  CHECK(reply({{"cmd", "msg"}, {"text", "psst"}}, R"({"ok":true,"ts":1.5})") == t + "-> ** psst\n");
  // list: channels that are no array are none; an entry that is no object is shown raw.
  CHECK(reply({{"cmd", "list"}}, R"({"ok":true})") == t + "* no channels\n");
  CHECK(reply({{"cmd", "list"}}, R"({"ok":true,"channels":{"#a":1}})") == t + "* no channels\n");
  CHECK(reply({{"cmd", "list"}}, R"({"ok":true,"channels":[7,{"channel":"#a","members":"two","topic":1}]})") ==
        t + "* 7\n" + t + "* #a (?) \n");
  // history: the same for messages; truncated counts only when it is true.
  CHECK(reply({{"cmd", "history"}}, R"({"ok":true,"truncated":"yes"})") == t + "* no history\n");
  CHECK(reply({{"cmd", "history"}}, R"({"ok":true,"messages":["junk",{"ts":"x","from":2,"text":"hi"}]})") ==
        t + "\"junk\"\n" + t + "<> hi\n");
  // A request without a cmd (/raw {"x":1}) shows the reply as it is.
  CHECK(render_reply({{"x", 1}}, json::parse(R"({"ok":true,"id":2})"), s, 0) == "{\"id\":2,\"ok\":true}\n");

  s.channel = "#A";
  auto event = [&](const char* text) { return render_event(json::parse(text), s, 0); };
  CHECK(event(R"({"event":"shutdown","reason":1,"retry_ms":"soon"})") ==
        t + "* server is shutting down (); reconnect in ? ms\n");
  CHECK(event(R"({"event":"topic","nick":"x","channel":"#A","topic":5})") == t + "* x set the topic of #A: (none)\n");
  CHECK(event(R"({"event":"message","ts":"x","from":"x","text":"y"})") == t + "*x* y\n");
  CHECK(event(R"({"event":"message","channel":"#A","from":[],"text":{}})") == t + "<> \n");
  CHECK(event(R"({"event":"part","nick":"x","channel":"#A","reason":false})") == t + "* x left #A\n");
  CHECK(event(R"({"event":5})") == "{\"event\":5}\n");
}

TEST_CASE("client: /history N out of int's range is a usage error") {
  Session s;
  s.channel = "#a";
  CHECK(interpret("/history 99999999999999999999", s).print.starts_with("usage"));
  CHECK(interpret("/history -3", s).print.starts_with("usage"));
  CHECK((*interpret("/history 500", s).request)["limit"] == 500);
}
