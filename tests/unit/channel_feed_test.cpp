// The cluster's per-channel feed: seq order restored, holes repaired from
// history or reported as gaps, and what it holds bounded.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "parley/cluster/bus_message.hpp"
#include "parley/cluster/channel_feed.hpp"

using namespace parley::cluster;

namespace {

struct Recorder : ChannelFeed::Sink {
  std::vector<std::string> out;  // "d3", "g4-6", "r4-6"
  void deliver(std::uint64_t seq, std::string_view, std::string_view line) override {
    out.push_back("d" + std::to_string(seq) + (line.empty() ? "" : ":" + std::string(line)));
  }
  void gap(std::uint64_t from, std::uint64_t to) override {
    out.push_back("g" + std::to_string(from) + "-" + std::to_string(to));
  }
  void repair(std::uint64_t from, std::uint64_t to) override {
    out.push_back("r" + std::to_string(from) + "-" + std::to_string(to));
  }
};

void message(ChannelFeed& feed, std::uint64_t seq, Recorder& sink) { feed.on_message(seq, "n/1", "", sink); }

}  // namespace

TEST_CASE("feed: in order after the anchor, nothing at or below it, duplicates dropped") {
  ChannelFeed feed;
  Recorder sink;
  message(feed, 5, sink);  // before the anchor: held
  message(feed, 6, sink);
  CHECK(sink.out.empty());
  feed.anchor(5, sink);  // the join read head 5: 5 is not ours, 6 is
  message(feed, 7, sink);
  message(feed, 7, sink);
  message(feed, 3, sink);
  CHECK(sink.out == std::vector<std::string>{"d6", "d7"});
  CHECK(feed.delivered() == 7);
}

TEST_CASE("feed: a hole is repaired from history before later messages go out") {
  ChannelFeed feed;
  Recorder sink;
  feed.anchor(0, sink);
  message(feed, 1, sink);
  message(feed, 4, sink);  // 2 and 3 lost
  message(feed, 5, sink);
  CHECK(sink.out == std::vector<std::string>{"d1", "r2-3"});
  feed.repaired(2, 3, std::vector<ChannelFeed::Repaired>{{2, "n/1", "two"}, {3, "n/1", "three"}}, sink);
  CHECK(sink.out == std::vector<std::string>{"d1", "r2-3", "d2:two", "d3:three", "d4", "d5"});
  CHECK_FALSE(feed.repairing());
  CHECK(feed.held() == 0);
}

TEST_CASE("feed: what history no longer has becomes a gap; stale and failed repairs") {
  ChannelFeed feed;
  Recorder sink;
  feed.anchor(10, sink);
  message(feed, 15, sink);
  CHECK(sink.out == std::vector<std::string>{"r11-14"});
  feed.repaired(1, 2, std::vector<ChannelFeed::Repaired>{}, sink);  // not the one asked: ignored
  CHECK(sink.out.size() == 1);
  feed.repaired(11, 14, std::vector<ChannelFeed::Repaired>{{13, "n/1", ""}}, sink);
  CHECK(sink.out == std::vector<std::string>{"r11-14", "g11-12", "d13", "g14-14", "d15"});
  message(feed, 17, sink);
  feed.repaired(16, 16, std::nullopt, sink);  // the read failed
  CHECK(sink.out.back() == "d17");
  CHECK(sink.out[sink.out.size() - 2] == "g16-16");
}

TEST_CASE("feed: a message that arrives during its own repair is not delivered twice") {
  ChannelFeed feed;
  Recorder sink;
  feed.anchor(0, sink);
  message(feed, 3, sink);
  message(feed, 2, sink);  // late, not lost: held while the repair runs
  feed.repaired(1, 2, std::vector<ChannelFeed::Repaired>{{1, "n/1", ""}, {2, "n/1", ""}}, sink);
  CHECK(sink.out == std::vector<std::string>{"r1-2", "d1", "d2", "d3"});
}

TEST_CASE("feed: a head read after a resubscribe repairs what was missed meanwhile") {
  ChannelFeed feed;
  Recorder sink;
  feed.anchor(0, sink);
  message(feed, 1, sink);
  feed.on_head(1, sink);  // nothing missed
  feed.on_head(4, sink);
  CHECK(sink.out == std::vector<std::string>{"d1", "r2-4"});
}

TEST_CASE("feed: holding is bounded; past the bound the hole is a gap") {
  ChannelFeed feed(3);
  Recorder sink;
  feed.anchor(0, sink);
  for (std::uint64_t seq = 2; seq <= 5; ++seq) message(feed, seq, sink);  // 1 never comes; 4 held > 3
  CHECK(sink.out == std::vector<std::string>{"r1-1", "g1-1", "d2", "d3", "d4", "d5"});
  CHECK(feed.held() == 0);
  feed.repaired(1, 1, std::vector<ChannelFeed::Repaired>{{1, "n/1", ""}}, sink);  // stale now
  message(feed, 6, sink);
  CHECK(sink.out.back() == "d6");
  ChannelFeed waiting(2);  // no anchor yet: only the newest are kept
  for (std::uint64_t seq = 1; seq <= 5; ++seq) message(waiting, seq, sink);
  CHECK(waiting.held() == 2);
}

TEST_CASE("bus messages: every form, and garbage refused") {
  BusMessage m = parse_bus_message("m 42 node~1/7\n{\"event\":\"message\"}\n");
  CHECK(m.kind == BusMessage::Kind::message);
  CHECK(m.seq == 42);
  CHECK(m.owner == "node~1/7");
  CHECK(m.line == "{\"event\":\"message\"}\n");
  m = parse_bus_message("u a/1 #x,#y\n{}\n");
  CHECK(m.kind == BusMessage::Kind::users);
  CHECK(m.keys == "#x,#y");
  m = parse_bus_message("d 9\n{}\n");
  CHECK(m.kind == BusMessage::Kind::direct);
  CHECK(m.conn == 9);
  m = parse_bus_message("r 12");
  CHECK(m.kind == BusMessage::Kind::replaced);
  CHECK(m.conn == 12);
  CHECK(parse_bus_message("e a/1\n{}\n").kind == BusMessage::Kind::event);
  for (const char* bad : {"", "m", "m x a/1\n{}\n", "m 1\n{}\n", "m 1 a/1\n{}", "e a/1", "u a/1\n{}\n", "d\n{}\n",
                          "r -1", "r 1x", "zz 1", "x 1\n{}\n", "m 99999999999999999999999 a\n{}\n"})
    CHECK_MESSAGE(parse_bus_message(bad).kind == BusMessage::Kind::invalid, bad);
  CHECK(local_conn("node~1/7", "node~1") == 7);
  CHECK(local_conn("node~2/7", "node~1") == 0);
  CHECK(local_conn("-", "node~1") == 0);
  CHECK(local_conn("node~1/x", "node~1") == 0);
}
