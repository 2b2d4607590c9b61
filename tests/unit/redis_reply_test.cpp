// RedisReply's accessors, on replies read by RespReader (its bounds are
// tested in resp_reader_test.cpp), reading the Redis functions' replies
// (function_replies.hpp), and the reconnect backoff.
#include <string>

#include <doctest/doctest.h>

#include "parley/cluster/function_replies.hpp"
#include "parley/cluster/redis_backoff.hpp"
#include "parley/cluster/resp_reader.hpp"

using namespace parley::cluster;
using Type = RedisReply::Type;

namespace {

// The first reply RespReader makes of `bytes`.
RedisReply read(const std::string& bytes) {
  RespReader reader;
  reader.feed(bytes);
  REQUIRE_MESSAGE(reader.next() == RespReader::Status::value, reader.why());
  return reader.reply();
}

}  // namespace

TEST_CASE("redis reply: every RESP2 type is copied") {
  CHECK(read("+OK\r\n").type == Type::status);
  CHECK(read("+OK\r\n").str == "OK");
  CHECK(read("-ERR wrong\r\n").type == Type::error);
  CHECK_FALSE(read("-ERR wrong\r\n").ok());
  CHECK(read("-ERR wrong\r\n").str == "ERR wrong");
  CHECK(read(":-42\r\n").integer == -42);
  CHECK(read("$-1\r\n").is_nil());
  const RedisReply binary = read(std::string("$3\r\na\0b\r\n", 9));
  CHECK(binary.type == Type::string);
  CHECK(binary.str == std::string("a\0b", 3));
  const RedisReply array = read("*3\r\n$1\r\nx\r\n:7\r\n*1\r\n$-1\r\n");
  REQUIRE(array.type == Type::array);
  REQUIRE(array.elements.size() == 3);
  CHECK(array.at(0).str == "x");
  CHECK(array.at(1).integer == 7);
  CHECK(array.at(2).at(0).is_nil());
  CHECK(array.at(3).is_nil());      // past the end: nil
  CHECK(array.at(0).at(0).is_nil());  // not an array: nil
  CHECK(read("*0\r\n").elements.empty());
  CHECK(read("*-1\r\n").is_nil());
}

TEST_CASE("redis reply: as_integer reads integers and strings that hold one") {
  CHECK(read(":12\r\n").as_integer() == 12);
  CHECK(read("$2\r\n12\r\n").as_integer() == 12);
  CHECK(read("$3\r\n-12\r\n").as_integer() == -12);
  CHECK_FALSE(read("$3\r\n12x\r\n").as_integer());
  CHECK_FALSE(read("$3\r\n 12\r\n").as_integer());
  CHECK_FALSE(read("$0\r\n\r\n").as_integer());
  CHECK_FALSE(read("$20\r\n99999999999999999999\r\n").as_integer());
  CHECK_FALSE(read("+12\r\n").as_integer());  // a status is not a string
  CHECK_FALSE(read("$-1\r\n").as_integer());
  CHECK_FALSE(RedisReply::failed("gone").as_integer());
}

TEST_CASE("redis reply: failures are ours, and never ok") {
  const RedisReply failed = RedisReply::failed("timed out");
  CHECK(failed.type == Type::failure);
  CHECK_FALSE(failed.ok());
  CHECK(failed.str == "timed out");
}

TEST_CASE("redis backoff: doubling from min to max, each delay between half and all of it") {
  CHECK(reconnect_delay_ms(0, 100, 5000, 0.0) == 50);
  CHECK(reconnect_delay_ms(0, 100, 5000, 0.999) == 99);
  CHECK(reconnect_delay_ms(1, 100, 5000, 0.0) == 100);
  CHECK(reconnect_delay_ms(3, 100, 5000, 0.5) == 600);
  CHECK(reconnect_delay_ms(6, 100, 5000, 0.0) == 2500);  // 6400 capped at 5000
  CHECK(reconnect_delay_ms(1000, 100, 5000, 0.999) <= 5000);
  CHECK(reconnect_delay_ms(0, 1, 1, 0.0) == 1);  // never 0: no busy retry
  CHECK(reconnect_delay_ms(0, 0, 0, 0.5) == 1);
  CHECK(reconnect_delay_ms(2, 500, 100, 0.0) == 50);  // min above max: max wins
}

TEST_CASE("function replies: a seq or count is a positive integer, as a number or its text; else 0") {
  CHECK(unsigned_of(read(":42\r\n")) == 42);
  CHECK(unsigned_of(read("$2\r\n17\r\n")) == 17);
  CHECK(unsigned_of(read(":-3\r\n")) == 0);
  CHECK(unsigned_of(read("$-1\r\n")) == 0);
  CHECK(unsigned_of(read("$3\r\nabc\r\n")) == 0);
}

TEST_CASE("function replies: a topic is text, or none for nil") {
  CHECK(optional_text(read("$5\r\nhello\r\n")) == "hello");
  CHECK(optional_text(read("$0\r\n\r\n")) == "");
  CHECK_FALSE(optional_text(read("$-1\r\n")).has_value());
}

TEST_CASE("function replies: member entries give their nicks, sorted case-folded") {
  CHECK(member_nick("n1~ab/7 Alice") == "Alice");
  CHECK(member_nick(" held") == "held");  // a held session's owner is empty
  CHECK(member_nick("nospace") == "nospace");
  const RedisReply entries = read("*3\r\n$10\r\nn1~a/1 bob\r\n$12\r\nn2~b/9 Alice\r\n$5\r\n carl\r\n");
  CHECK(sorted_nicks(entries) == std::vector<std::string>{"Alice", "bob", "carl"});
}

TEST_CASE("function replies: a history entry is a message: seq from its id, ts, from and text from its fields") {
  const RedisReply entry = read(
      "*2\r\n$4\r\n12-0\r\n*10\r\n$2\r\nts\r\n$13\r\n1796190869669\r\n$1\r\nf\r\n$3\r\nann\r\n"
      "$1\r\nt\r\n$2\r\nhi\r\n$1\r\no\r\n$6\r\nn1~a/3\r\n$1\r\ng\r\n$1\r\n5\r\n");
  const parley::LoggedMessage m = logged(entry);
  CHECK(m.seq == 12);
  CHECK(m.ts == 1796190869669);
  CHECK(m.from == "ann");
  CHECK(m.text == "hi");
  CHECK(entry_field(entry, "o") == "n1~a/3");
  CHECK(entry_field(entry, "g") == "5");
  CHECK(entry_field(entry, "nothing") == "");
}
