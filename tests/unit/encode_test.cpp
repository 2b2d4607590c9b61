#include <functional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/protocol/encode.hpp"

using namespace parley;

TEST_CASE("encode_line: one JSON line, control characters escaped, UTF-8 kept") {
  Json e = Json::object();
  e["event"] = "message";
  e["text"] = std::string("a\0b\x01\n\"\\ \xc3\xa9", 10);
  Bytes line = encode_line(e);
  CHECK(*line == "{\"event\":\"message\",\"text\":\"a\\u0000b\\u0001\\n\\\"\\\\ \xc3\xa9\"}\n");
}

TEST_CASE("fatal, ping and shutdown events") {
  CHECK(*encode_fatal(ErrorCode::slow_consumer, "too slow") ==
        "{\"event\":\"error\",\"code\":\"slow_consumer\",\"message\":\"too slow\"}\n");
  CHECK(*encode_ping() == "{\"event\":\"ping\"}\n");
  CHECK(encode_ping() == encode_ping());  // shared, encoded once
  CHECK(*encode_shutdown("restart", 2000) == "{\"event\":\"shutdown\",\"reason\":\"restart\",\"retry_ms\":2000}\n");
}

TEST_CASE("append_line writes exactly what the library's dump writes") {
  // The fast encoder must be byte-identical to nlohmann's dump(-1, ' ', false,
  // replace), whatever it is given: control characters, quotes, UTF-8,
  // invalid UTF-8 (replaced), nesting, every number kind.
  std::mt19937_64 rng(20261126);
  const std::vector<std::string> pieces = {
      "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", std::string(1, '\0'), "\x01", "\x1f", "\x7f",
      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80", "text", "#chan"};
  auto random_string = [&] {
    std::string s;
    for (int n = static_cast<int>(rng() % 8); n > 0; --n) s += pieces[rng() % pieces.size()];
    return s;
  };
  std::function<Json(int)> random_value = [&](int depth) -> Json {
    switch (rng() % (depth > 2 ? 6 : 8)) {
      case 0: return random_string();
      case 1: return static_cast<std::int64_t>(rng()) >> (rng() % 64);
      case 2: return rng() >> (rng() % 64);
      case 3: return rng() % 2 == 0;
      case 4: return nullptr;
      case 5: return static_cast<double>(rng() % 1000) / 8.0;
      case 6: {
        Json a = Json::array();
        for (int n = static_cast<int>(rng() % 4); n > 0; --n) a.push_back(random_value(depth + 1));
        return a;
      }
      default: {
        Json o = Json::object();
        for (int n = static_cast<int>(rng() % 5); n > 0; --n) o[random_string()] = random_value(depth + 1);
        return o;
      }
    }
  };
  for (int i = 0; i < 20000; ++i) {
    const Json value = random_value(0);
    std::string fast;
    append_line(fast, value);
    REQUIRE(fast == value.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
  }
  std::string two;
  append_line(two, Json{{"a", 1}});
  append_line(two, Json{{"b", "x"}});
  CHECK(two == "{\"a\":1}\n{\"b\":\"x\"}\n");
}

TEST_CASE("messages and acks written from their fields match their JSON documents") {
  // `say`/`msg` events and replies skip the document; what they write must
  // still be exactly what the document would have been.
  std::mt19937_64 rng(20261127);
  const std::vector<std::string> pieces = {"a", "Z", "#", "\"", "\\", "\n", std::string(1, '\0'), "\x1f",
                                           "\xc3\xa9", "\xf0\x9f\x98\x80", "text"};
  auto random_string = [&](bool may_be_empty) {
    std::string s = may_be_empty ? "" : "n";
    for (int n = static_cast<int>(rng() % 6); n > 0; --n) s += pieces[rng() % pieces.size()];
    return s;
  };
  auto random_id = [&] {
    RequestId id;
    switch (rng() % 4) {
      case 0: break;
      case 1: id.kind = RequestId::Kind::string; id.text = random_string(true); break;
      case 2: id.kind = RequestId::Kind::integer; id.integer = static_cast<std::int64_t>(rng()) >> (rng() % 64); break;
      default: id.kind = RequestId::Kind::unsigned_integer; id.unsigned_integer = rng(); break;
    }
    return id;
  };
  for (int i = 0; i < 5000; ++i) {
    const bool say = rng() % 2 == 0;
    ChatMessage m{say ? random_string(false) : "", random_string(false), say ? "" : random_string(false),
                  random_string(true), say ? rng() : 0, static_cast<std::int64_t>(rng() >> 1)};
    std::string typed, tree;
    append_line(typed, m);
    append_line(tree, to_json(m));
    REQUIRE(typed == tree);
    ChatAck a{random_id(), m.channel, m.to, m.seq, m.ts};
    REQUIRE(*encode_line(a) == *encode_line(to_json(a)));
  }
  ChatMessage said{"#x", "ann", "", "hi", 3, 1000};
  std::string line;
  append_line(line, said);
  CHECK(line == "{\"event\":\"message\",\"channel\":\"#x\",\"from\":\"ann\",\"text\":\"hi\",\"seq\":3,\"ts\":1000}\n");
  ChatAck to_bee;
  to_bee.to = "Bee";
  to_bee.ts = 5;
  CHECK(*encode_line(to_bee) == "{\"ok\":true,\"to\":\"Bee\",\"ts\":5}\n");
}
