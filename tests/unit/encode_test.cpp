// The writers: one per reply and event type, judged by nlohmann_json. For
// random values of every type, the bytes must be exactly what the library's
// dump() writes for the document the value stands for; strings of any bytes
// (controls, quotes, UTF-8, invalid UTF-8) are escaped as the library does.
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/protocol/encode.hpp"
#include "wire.hpp"

using namespace parley;
using parley::test::document;
using parley::test::dumped;
using parley::test::Json;

namespace {

class Random {
 public:
  explicit Random(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t number() { return rng_(); }
  bool coin() { return rng_() % 2 == 0; }
  std::uint64_t small() { return rng_() % 1000; }

  std::string text(bool may_be_empty = true) {
    static const std::vector<std::string> pieces = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", std::string(1, '\0'), "\x01", "\x1f",
        "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80", "\xe0\x80",
        "\xf4\x90\x80\x80", "\xf0\x9f", "text", "#chan"};
    std::string s = may_be_empty ? "" : "n";
    for (int n = static_cast<int>(rng_() % 8); n > 0; --n) s += pieces[rng_() % pieces.size()];
    return s;
  }

  std::optional<std::string> maybe_text() { return coin() ? std::optional(text()) : std::nullopt; }

  std::vector<std::string> texts() {
    std::vector<std::string> out(rng_() % 4);
    for (auto& t : out) t = text(false);
    return out;
  }

  RequestId id() {
    RequestId id;
    switch (rng_() % 4) {
      case 0: break;
      case 1: id.kind = RequestId::Kind::string; id.text = text(); break;
      case 2: id.kind = RequestId::Kind::integer; id.integer = static_cast<std::int64_t>(rng_()) >> (rng_() % 64); break;
      default: id.kind = RequestId::Kind::unsigned_integer; id.unsigned_integer = rng_(); break;
    }
    return id;
  }

  Reply reply() {
    switch (rng_() % 11) {
      case 0: return OkReply{};
      case 1: return ErrorReply{static_cast<ErrorCode>(rng_() % 17), text(),
                                coin() ? std::optional<std::uint64_t>(number()) : std::nullopt};
      case 2: {
        Welcome w{text(false), text(false), text(false), 1, text(false), texts(), small(), small(), small(),
                  text(false), coin(), {}};
        if (w.resumed)
          for (int n = static_cast<int>(rng_() % 4); n > 0; --n) w.channels.push_back({text(false), number(), text(false)});
        return w;
      }
      case 3: return NickReply{text(false)};
      case 4: return JoinReply{text(false), maybe_text(), texts(), number(), text(false)};
      case 5: return PartReply{text(false)};
      case 6: {
        const bool say = coin();
        return ChatAck{say ? text(false) : "", say ? "" : text(false), say ? number() : 0,
                       static_cast<std::int64_t>(number() >> 1)};
      }
      case 7: return TopicReply{text(false), maybe_text()};
      case 8: {
        ListReply list;
        for (int n = static_cast<int>(rng_() % 4); n > 0; --n) list.channels.push_back({text(false), small(), maybe_text()});
        return list;
      }
      case 9: return MembersReply{text(false), texts()};
      default: {
        HistoryReply history{text(false), text(false), {}, coin()};
        for (int n = static_cast<int>(rng_() % 4); n > 0; --n)
          history.messages.push_back({number(), static_cast<std::int64_t>(number() >> 1), text(false), text()});
        return history;
      }
    }
  }

  Event event() {
    switch (rng_() % 6) {
      case 0: return Joined{text(false), text(false)};
      case 1: return Parted{text(false), text(false), maybe_text()};
      case 2: {
        const bool say = coin();
        return ChatMessage{say ? text(false) : "", text(false), say ? "" : text(false), text(),
                           say ? number() : 0, static_cast<std::int64_t>(number() >> 1)};
      }
      case 3: return TopicSet{text(false), text(false), maybe_text()};
      case 4: return NickChanged{text(false), text(false)};
      default: return UserQuit{text(false), text()};
    }
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

TEST_CASE("strings: escaped exactly as the library escapes them, invalid UTF-8 replaced") {
  Random random(20261201);
  for (int i = 0; i < 20000; ++i) {
    const std::string s = random.text();
    std::string ours;
    append_json_string(ours, s);
    REQUIRE(ours + "\n" == dumped(Json(s)));
  }
  std::string out;
  append_json_string(out, std::string("a\0b\x01\n\"\\ \xc3\xa9", 10));
  CHECK(out == "\"a\\u0000b\\u0001\\n\\\"\\\\ \xc3\xa9\"");
  out.clear();
  append_json_string(out, "\xff\xc3(");  // a bad lead byte, then a lead cut short by '('
  CHECK(out == "\"\xEF\xBF\xBD\xEF\xBF\xBD(\"");
}

TEST_CASE("every reply type: the bytes of the document it stands for") {
  Random random(20261202);
  for (int i = 0; i < 20000; ++i) {
    const RequestId id = random.id();
    const Reply reply = random.reply();
    REQUIRE(*encode_reply(id, reply) == dumped(document(id, reply)));
  }
}

TEST_CASE("every event type: the bytes of the document it stands for, batches back to back") {
  Random random(20261203);
  std::string batch, expected;
  for (int i = 0; i < 20000; ++i) {
    const Event event = random.event();
    REQUIRE(*encode_event(event) == dumped(document(event)));
    if (i < 10) {
      append_event(batch, event);
      expected += dumped(document(event));
    }
  }
  CHECK(batch == expected);
}

TEST_CASE("what the wire looks like") {
  CHECK(*encode_event(ChatMessage{"#x", "ann", "", "hi", 3, 1000}) ==
        "{\"event\":\"message\",\"channel\":\"#x\",\"from\":\"ann\",\"text\":\"hi\",\"seq\":3,\"ts\":1000}\n");
  CHECK(*encode_reply({}, ChatAck{"", "Bee", 0, 5}) == "{\"ok\":true,\"to\":\"Bee\",\"ts\":5}\n");
  RequestId seven;
  seven.kind = RequestId::Kind::integer;
  seven.integer = 7;
  CHECK(*encode_reply(seven, ErrorReply{ErrorCode::rate_limited, "slow down", 100}) ==
        "{\"ok\":false,\"id\":7,\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\",\"retry_ms\":100}}\n");
  CHECK(*encode_reply({}, JoinReply{"#x", std::nullopt, {"a", "b"}, 0, "e-1"}) ==
        "{\"ok\":true,\"channel\":\"#x\",\"topic\":null,\"members\":[\"a\",\"b\"],\"seq\":0,\"epoch\":\"e-1\"}\n");
  CHECK(*encode_event(TopicSet{"#x", "a", std::nullopt}) ==
        "{\"event\":\"topic\",\"channel\":\"#x\",\"nick\":\"a\",\"topic\":null}\n");
}

TEST_CASE("fatal, ping and shutdown events") {
  CHECK(*encode_fatal(ErrorCode::slow_consumer, "too slow") ==
        "{\"event\":\"error\",\"code\":\"slow_consumer\",\"message\":\"too slow\"}\n");
  CHECK(*encode_ping() == "{\"event\":\"ping\"}\n");
  CHECK(encode_ping() == encode_ping());  // shared, encoded once
  CHECK(*encode_shutdown("restart", 2000) == "{\"event\":\"shutdown\",\"reason\":\"restart\",\"retry_ms\":2000}\n");
}

TEST_CASE("event templates: the backplane's script fills in the name and seq, the writer's bytes come out") {
  // Texts that look like the holes must not confuse the split.
  const std::string tricky = "\x01 \",\"seq\":0, \\u0001";
  const std::vector<std::pair<Event, std::pair<std::string, std::uint64_t>>> cases = {
      {Joined{"#Room", "ann"}, {"#Room", 0}},
      {Parted{"#Room", "ann", tricky}, {"#Room", 0}},
      {Parted{"#Room", "ann", std::nullopt}, {"#Room", 0}},
      {TopicSet{"#Room", "ann", tricky}, {"#Room", 0}},
      {TopicSet{"#Room", "ann", std::nullopt}, {"#Room", 0}},
      {ChatMessage{"#Room", "ann", "", tricky, 0, 1700000000123}, {"#Room", 42}},
      {ChatMessage{"#Room", "ann", "", "hi", 0, 5}, {"#Room", 18446744073709551615ull}},
      {ChatMessage{"", "ann", "Bee", tricky, 0, 7}, {"Bee", 0}},
      {UserQuit{"", tricky}, {"ann", 0}},
  };
  for (const auto& [event, hole] : cases) {
    Event filled = event;
    std::visit(
        [&hole](auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, ChatMessage>) {
            (e.channel.empty() ? e.to : e.channel) = hole.first;
            e.seq = hole.second;
          } else if constexpr (std::is_same_v<E, UserQuit>) {
            e.nick = hole.first;
          } else if constexpr (!std::is_same_v<E, NickChanged>) {
            e.channel = hole.first;
          }
        },
        filled);
    CHECK(event_template(event).fill(hole.first, hole.second) == *encode_event(filled));
  }
}
