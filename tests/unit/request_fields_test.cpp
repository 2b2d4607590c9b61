#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/protocol/request_fields.hpp"

using namespace parley;

namespace {

// The full parser's view of a line: a leading UTF-8 byte-order mark makes
// the fast path refuse it, and the full parser skips the mark.
FieldsResult full_parse(std::string_view line, Fields& out) {
  return read_fields("\xEF\xBB\xBF" + std::string(line), out);
}

}  // namespace

TEST_CASE("flat fast path: plain requests are read without the full parser") {
  Fields f;
  REQUIRE(read_flat_object(R"( {"cmd":"say", "channel" : "#a", "text":"hi \"you\"\\\/\n", "id": -7, "n": 18446744073709551615, "x": null, "b": true} )", f));
  CHECK(*f.find("cmd") == FieldValue{std::string("say")});
  CHECK(*f.find("text") == FieldValue{std::string("hi \"you\"\\/\n")});
  CHECK(*f.find("id") == FieldValue{std::int64_t{-7}});
  CHECK(*f.find("n") == FieldValue{std::uint64_t{18446744073709551615ULL}});
  CHECK(f.find("x") == nullptr);
  CHECK(*f.find("b") == FieldValue{true});
  Fields dup;
  REQUIRE(read_flat_object(R"({"a":1,"a":"two"})", dup));
  CHECK(*dup.find("a") == FieldValue{std::string("two")});
  CHECK(dup.all().size() == 1);
}

TEST_CASE("flat fast path gives up on what only the full parser can judge") {
  Fields f;
  for (const char* line : {R"({"a":"\u00e9"})", "{\"a\":\"\xc3\xa9\"}", R"({"a":1.5})", R"({"a":1e3})",
                           R"({"a":[1]})", R"({"a":{}})", R"({"a":01})", R"({"a":18446744073709551616})",
                           R"({"a":"x"} x)", R"({"a" "x"})", "{\"a\":\"\x01\"}", R"([1])", R"("x")", R"({"a":tru})",
                           R"({"a":-})", R"({"a":"\q"})", "", "{"})
    CHECK_FALSE(read_flat_object(line, f));
}

TEST_CASE("whenever the fast path accepts a line, the full parser reads the same fields") {
  std::mt19937_64 rng(42);
  const std::vector<std::string> tokens = {
      "{", "}", "[", "]", ":", ",", " ", "\t", "\n", "\"cmd\"", "\"say\"", "\"text\"", "\"a\\\"b\"", "\"\\n\\\\\"",
      "\"\\u0041\"", "\"\xc3\xa9\"", "\"\xff\"", "0", "-0", "7", "-12", "01", "1.5", "2e3", "18446744073709551615",
      "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "true", "false", "null", "tru", "\"",
      "\\", "x"};
  auto line_from = [&] {
    std::string line = "{";
    const int fields = static_cast<int>(rng() % 4);
    for (int i = 0; i < fields; ++i) {
      if (i) line += rng() % 10 ? "," : tokens[rng() % tokens.size()];
      line += rng() % 8 ? tokens[9 + rng() % 5] : tokens[rng() % tokens.size()];
      line += rng() % 10 ? ":" : tokens[rng() % tokens.size()];
      line += tokens[rng() % tokens.size()];
    }
    line += rng() % 10 ? "}" : tokens[rng() % tokens.size()];
    return line;
  };
  int accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string line = line_from();
    Fields fast, full;
    if (!read_flat_object(line, fast)) continue;
    ++accepted;
    INFO(line);
    REQUIRE(full_parse(line, full) == FieldsResult::object);
    CHECK(fast.all() == full.all());
  }
  CHECK(accepted > 1000);  // the generator does reach the fast path
}

TEST_CASE("read_fields: not JSON, not an object, nested values") {
  Fields f;
  CHECK(read_fields("{\"a\":", f) == FieldsResult::not_json);
  CHECK(read_fields("{\"a\":\"\xff\"}", f) == FieldsResult::not_json);
  CHECK(read_fields("[1,2]", f) == FieldsResult::not_object);
  CHECK(read_fields("\"x\"", f) == FieldsResult::not_object);
  f.clear();
  REQUIRE(read_fields(R"({"cmd":"join","deep":[[[{"x":1}]]],"channel":"#c"})", f) == FieldsResult::object);
  CHECK(*f.find("deep") == FieldValue{Nested{}});
  CHECK(*f.find("channel") == FieldValue{std::string("#c")});
}
