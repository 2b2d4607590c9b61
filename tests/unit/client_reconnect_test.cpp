// The `parley` client's reconnect logic without sockets: the backoff's
// delays, the marks' duplicate filter, and the catch-up's history paging.
#include <doctest/doctest.h>

#include "parley/client/backoff.hpp"
#include "parley/client/catchup.hpp"
#include "parley/client/marks.hpp"

using namespace parley::client;

TEST_CASE("client backoff: shutdown adds up to a fifth, a loss waits 0.1-0.5 s, failures double to 30 s") {
  double r = 0.0;
  Backoff backoff([&] { return r; });
  CHECK(backoff.after_shutdown(2000) == 2000);
  CHECK(backoff.after_loss() == 100);
  CHECK(backoff.after_failure() == 250);  // half of 0.5 s at the lowest
  CHECK(backoff.after_failure() == 500);
  CHECK(backoff.after_failure() == 1000);
  r = 0.999;
  CHECK(backoff.after_shutdown(2000) == 2400);
  CHECK(backoff.after_shutdown(100000) == 30999);  // capped, and at most 1 s of jitter
  CHECK(backoff.after_loss() == 499);
  for (int i = 0; i < 20; ++i) CHECK(backoff.after_failure() <= Backoff::cap_ms);
  CHECK(backoff.after_failure() >= Backoff::cap_ms * 99 / 100);
  backoff.reset();
  CHECK(backoff.after_failure() < 500);
}

TEST_CASE("client marks: a message at or below the mark is a duplicate; channels compare without case") {
  Marks marks;
  marks.joined(json::parse(R"({"channel":"#A","seq":4,"epoch":"e"})"));
  CHECK_FALSE(marks.saw("#a", 4));
  CHECK(marks.saw("#a", 5));
  CHECK_FALSE(marks.saw("#A", 5));
  CHECK(marks.saw("#A", "x"));  // no usable seq: shown, moves nothing
  CHECK(marks.find("#a")->seq == 5);
  CHECK(marks.saw("#other", 1));  // no mark: shown
  CHECK(marks.saw("#a", 18446744073709551615u));
  CHECK(marks.saw("#a", -1));  // not a seq: shown
  marks.left("#a");
  CHECK_FALSE(marks.find("#A"));
}

TEST_CASE("client catch-up: pages after the mark, shows each message once, holds live ones meanwhile") {
  Session session;
  session.channel = "#a";
  Marks marks;
  marks.joined(json::parse(R"({"channel":"#a","seq":2,"epoch":"e"})"));
  marks.joined(json::parse(R"({"channel":"#b","seq":7,"epoch":"old"})"));
  marks.joined(json::parse(R"({"channel":"#c","seq":3,"epoch":"e"})"));
  Catchup catchup;
  catchup.start(json::parse(R"([{"channel":"#a","seq":4,"epoch":"e"},{"channel":"#b","seq":1,"epoch":"new"},
                                {"channel":"#c","seq":3,"epoch":"e"}])"), marks);
  CHECK(catchup.active());
  CHECK(*catchup.next_request(marks) == json::parse(R"({"cmd":"history","channel":"#a","after":2,"limit":500})"));
  CHECK(catchup.hold(json::parse(R"({"event":"message","channel":"#a","from":"x","text":"live","seq":5})")));
  const std::string t = clock_prefix(0);
  CHECK(catchup.on_page(json::parse(R"({"ok":true,"messages":[{"seq":2,"ts":0,"from":"x","text":"old"},
      {"seq":3,"ts":0,"from":"x","text":"m3"}],"truncated":false})"), marks, session, 0) ==
        "-- missed while disconnected: #a --\n" + t + "<x> m3\n");
  CHECK((*catchup.next_request(marks))["after"] == 3);  // not there yet: the next page
  CHECK(catchup.on_page(json::parse(R"({"ok":true,"messages":[{"seq":4,"ts":0,"from":"y","text":"m4"}]})"), marks,
                        session, 0) == t + "<y> m4\n");
  // #b has a new epoch: from its start. #c missed nothing and is not asked.
  CHECK((*catchup.next_request(marks))["after"] == 0);
  CHECK(catchup.on_page(json::parse(R"({"ok":true,"truncated":true,"messages":[{"seq":1,"ts":0,"from":"z","text":"b1"}]})"),
                        marks, session, 0) ==
        "-- some messages of #b are no longer kept --\n-- missed while disconnected: #b --\n" + t + "#b <z> b1\n");
  CHECK_FALSE(catchup.active());
  CHECK_FALSE(catchup.next_request(marks));
  const std::vector<json> held = catchup.take_held();
  REQUIRE(held.size() == 1);
  CHECK(marks.saw("#a", held[0]["seq"]));  // 5 is new; shown after the pages
}

TEST_CASE("client catch-up: an error or an empty page ends that channel instead of asking again") {
  Session session;
  Marks marks;
  marks.joined(json::parse(R"({"channel":"#a","seq":1,"epoch":"e"})"));
  Catchup catchup;
  catchup.start(json::parse(R"([{"channel":"#a","seq":9,"epoch":"e"}])"), marks);
  CHECK(catchup.on_page(json::parse(R"({"ok":true,"messages":[]})"), marks, session, 0).empty());
  CHECK_FALSE(catchup.active());
  catchup.start(json::parse(R"([{"channel":"#a","seq":9,"epoch":"e"}])"), marks);
  CHECK(catchup.on_page(json::parse(R"({"ok":false,"error":{"code":"not_in_channel"}})"), marks, session, 0)
            .find("cannot fetch what #a missed: not_in_channel") != std::string::npos);
  CHECK_FALSE(catchup.active());
  CHECK_FALSE(catchup.hold(json::parse(R"({"event":"message","channel":"#a","seq":10})")));
}
