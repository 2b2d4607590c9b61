#include <doctest/doctest.h>

#include "parley/encode.hpp"

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
