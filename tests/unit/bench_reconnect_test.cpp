// parley-bench --reconnect, the parts that need no server: the flag and the
// scenarios it is allowed with, the `shutdown` and `quit` events as the
// Parley adapter reads them, the resume and history requests and the
// replies read in full (parley_replies.hpp), and the jitter's bounds. The
// reconnects themselves run against real servers in integration-bench,
// integration-balancer and integration-cluster_balancer.
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "loader.hpp"
#include "options.hpp"
#include "parley_replies.hpp"
#include "protocol.hpp"

using namespace parley::bench;

namespace {

Options parse(std::vector<std::string> args) {
  bool help = false;
  return parse_options(args, help);
}

}  // namespace

TEST_CASE("bench --reconnect: off by default, a switch for idle, connect, fanout and rooms, refused elsewhere") {
  CHECK_FALSE(parse({"idle"}).reconnect);
  CHECK(parse({"idle", "--reconnect"}).reconnect);
  CHECK(parse({"connect", "--reconnect", "--conns", "3"}).reconnect);
  CHECK(parse({"fanout", "--reconnect"}).reconnect);
  CHECK(parse({"rooms", "--reconnect", "--rate", "100"}).reconnect);
  CHECK_THROWS_AS(parse({"idle", "--reconnect=1"}), UsageError);
  for (const char* scenario : {"pairs", "ramp"}) CHECK_THROWS_AS(parse({scenario, "--reconnect"}), UsageError);
  // Members catch up from history, which only Parley keeps.
  for (const char* scenario : {"fanout", "rooms"})
    for (const char* protocol : {"redis", "nats"})
      CHECK_THROWS_AS(parse({scenario, "--reconnect", "--protocol", protocol}), UsageError);
  CHECK(parse({"idle", "--reconnect", "--protocol", "nats"}).reconnect);
}

TEST_CASE("parley adapter: `shutdown` is its own kind and carries retry_ms; `shutting_down` stays fatal") {
  auto p = make_parley_protocol();
  Frame f;
  const std::string shutdown = "{\"event\":\"shutdown\",\"reason\":\"server shutting down\",\"retry_ms\":1733}\n";
  REQUIRE(p->next(shutdown, f) == shutdown.size());
  CHECK(f.kind == FrameKind::shutdown);
  CHECK(f.retry_ms == 1733);
  const std::string fatal = "{\"event\":\"error\",\"code\":\"shutting_down\",\"message\":\"bye\"}\n";
  REQUIRE(p->next(fatal, f) == fatal.size());
  CHECK(f.kind == FrameKind::fatal);
  CHECK(f.detail == "shutting_down");
  CHECK(f.retry_ms == 0);
  const std::string no_retry = "{\"event\":\"shutdown\",\"reason\":\"x\"}\n";
  REQUIRE(p->next(no_retry, f) == no_retry.size());
  CHECK(f.kind == FrameKind::shutdown);
  CHECK(f.retry_ms == 0);
}

TEST_CASE("bench --reconnect: jitter spreads over [delay/2, 3*delay/2) and 0 stays 0") {
  std::mt19937_64 random(7);
  CHECK(jittered_ms(0, random) == 0);
  std::uint64_t low = UINT64_MAX, high = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t ms = jittered_ms(1000, random);
    low = std::min(low, ms);
    high = std::max(high, ms);
  }
  CHECK(low >= 500);
  CHECK(low < 520);  // the whole range is used, not one value
  CHECK(high < 1500);
  CHECK(high > 1480);
}

TEST_CASE("parley adapter: a `quit` event is its own kind and names the nick") {
  auto p = make_parley_protocol();
  Frame f;
  const std::string quit = "{\"event\":\"quit\",\"nick\":\"b1_7\",\"reason\":\"server lost\"}\n";
  REQUIRE(p->next(quit, f) == quit.size());
  CHECK(f.kind == FrameKind::quit);
  CHECK(f.detail == "b1_7");
  CHECK(f.line == quit.substr(0, quit.size() - 1));
  const std::string join = "{\"event\":\"join\",\"channel\":\"c\",\"nick\":\"x\"}\n";
  REQUIRE(p->next(join, f) == join.size());
  CHECK(f.kind == FrameKind::ignored);
}

TEST_CASE("parley adapter: hello with resume and history after a seq; the others have no sessions") {
  auto p = make_parley_protocol();
  CHECK(p->resumes());
  std::string out;
  p->resume(out, "b1_0", "3f9c0a51e2b847d6a0c1d2e3f4a5b6c7");
  p->history_after(out, "b1-0", 42, 500);
  CHECK(out ==
        "{\"cmd\":\"hello\",\"nick\":\"b1_0\",\"resume\":\"3f9c0a51e2b847d6a0c1d2e3f4a5b6c7\"}\n"
        "{\"cmd\":\"history\",\"channel\":\"b1-0\",\"after\":42,\"limit\":500}\n");
  out.clear();
  p->resume(out, "n", "a\"b");  // an opaque token is written as JSON
  CHECK(out == "{\"cmd\":\"hello\",\"nick\":\"n\",\"resume\":\"a\\\"b\"}\n");
  for (const char* name : {"redis", "nats"}) {
    auto other = make_protocol(name);
    CHECK_FALSE(other->resumes());
    CHECK_THROWS_AS(other->resume(out, "n", "s"), std::logic_error);
    CHECK_THROWS_AS(other->history_after(out, "c", 1, 10), std::logic_error);
  }
}

TEST_CASE("parley replies: hello, resumed or not, with the channels' heads") {
  const Welcome fresh = parse_welcome(
      R"({"ok":true,"nick":"b1_0","server":{"name":"parley","node":"a"},"session":"0123abcd","resumed":false})");
  CHECK(fresh.ok);
  CHECK(fresh.session == "0123abcd");
  CHECK_FALSE(fresh.resumed);
  CHECK(fresh.channels.empty());
  const Welcome back = parse_welcome(
      R"({"ok":true,"nick":"b1_0","session":"0123abcd","resumed":true,"channels":[{"channel":"B1-0","seq":17,"epoch":"e-3"},{"channel":"x","seq":0,"epoch":"e-4"}]})");
  CHECK(back.ok);
  CHECK(back.resumed);
  REQUIRE(back.channels.size() == 2);
  CHECK(back.channels[0].channel == "B1-0");
  CHECK(back.channels[0].seq == 17);
  CHECK(back.channels[0].epoch == "e-3");
  CHECK(same_channel(back.channels[0].channel, "b1-0"));
  CHECK_FALSE(same_channel("b1-0", "b1-00"));
  const Welcome refused = parse_welcome(R"({"ok":false,"error":{"code":"nick_in_use","message":"taken"}})");
  CHECK_FALSE(refused.ok);
  CHECK(refused.error == "nick_in_use");
  // Never throws: what it cannot read is an error.
  for (const char* bad : {"", "not json", "[1]", R"({"ok":true})", R"({"ok":"yes"})",
                          R"({"ok":true,"session":"s","resumed":"yes","channels":[1,{"seq":"x"}]})"}) {
    const Welcome w = parse_welcome(bad);
    if (w.ok) CHECK_FALSE(w.resumed);
    else CHECK_FALSE(w.error.empty());
  }
}

TEST_CASE("parley replies: join heads and history pages") {
  const Joined joined =
      parse_joined(R"({"ok":true,"channel":"B1-0","topic":null,"members":["a","b"],"seq":12,"epoch":"e-9"})");
  CHECK(joined.ok);
  CHECK(joined.head.channel == "B1-0");
  CHECK(joined.head.seq == 12);
  CHECK(joined.head.epoch == "e-9");
  const HistoryPage page = parse_history(
      R"({"ok":true,"channel":"c","epoch":"e-9","messages":[{"seq":13,"ts":1,"from":"a","text":"x\"y"},{"seq":14,"ts":2,"from":"b","text":"z"}],"truncated":true})");
  CHECK(page.ok);
  CHECK(page.epoch == "e-9");
  CHECK(page.truncated);
  REQUIRE(page.messages.size() == 2);
  CHECK(page.messages[0].seq == 13);
  CHECK(page.messages[0].text == "x\"y");  // decoded, as the stamp reader wants it
  CHECK(page.messages[1].seq == 14);
  const HistoryPage denied = parse_history(R"({"ok":false,"error":{"code":"not_in_channel","message":"no"}})");
  CHECK_FALSE(denied.ok);
  CHECK(denied.error == "not_in_channel");
  CHECK_FALSE(parse_history(R"({"ok":true,"channel":"c"})").ok);  // no messages: not a page
  CHECK_FALSE(parse_joined("{").ok);
}
