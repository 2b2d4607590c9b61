// RedisReply's accessors, and hiredis's replies copied under ReplyLimits:
// bytes through hiredis's own reader, with and without the reader's budget.
#include <hiredis/hiredis.h>

#include <string>

#include <doctest/doctest.h>

#include "parley/cluster/hiredis_reader.hpp"
#include "parley/cluster/hiredis_reply.hpp"
#include "parley/cluster/redis_backoff.hpp"

using namespace parley::cluster;
using Type = RedisReply::Type;

namespace {

// The first reply hiredis's reader makes of `bytes` (with `budget`, when
// given), copied under `limits`.
RedisReply read(const std::string& bytes, const ReplyLimits& limits = {}, ReaderBudget* budget = nullptr) {
  redisReader* reader = redisReaderCreate();
  if (budget) limit_reader(reader, budget);
  REQUIRE(redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK);
  void* reply = nullptr;
  REQUIRE_MESSAGE(redisReaderGetReply(reader, &reply) == REDIS_OK, reader->errstr);
  REQUIRE(reply != nullptr);
  RedisReply copy = budget ? copy_read_reply(static_cast<redisReply*>(reply), *budget, limits)
                           : copy_reply(static_cast<redisReply*>(reply), limits);
  reader->fn->freeObject(reply);
  redisReaderFree(reader);
  return copy;
}

// An array nested `depth` deep: [[[...[1]...]]].
std::string nested(std::size_t depth) {
  std::string bytes;
  for (std::size_t i = 0; i < depth; ++i) bytes += "*1\r\n";
  return bytes + ":1\r\n";
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
  CHECK(copy_reply(nullptr, {}).type == Type::failure);
}

TEST_CASE("redis reply: deeper or larger than the limits becomes an error reply") {
  ReplyLimits limits;
  limits.max_depth = 3;
  limits.max_elements = 5;
  CHECK(read(nested(3), limits).at(0).at(0).at(0).integer == 1);
  const RedisReply deep = read(nested(4), limits);
  CHECK(deep.type == Type::error);
  CHECK(deep.str == "reply too deep (arrays nested more than 3 levels)");
  CHECK(read("*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n", limits).elements.size() == 5);
  const RedisReply wide = read("*6\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n", limits);
  CHECK(wide.type == Type::error);
  CHECK(wide.str == "reply too large (more than 5 elements)");
  // Counted over the whole tree: 2 + 2 + 2 elements.
  CHECK(read("*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", limits).type == Type::error);
  CHECK(read("*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n:3\r\n", limits).type == Type::array);
}

TEST_CASE("redis reply: the reader's budget builds nothing past max_elements, yet reads the reply to its end") {
  ReplyLimits limits;
  limits.max_elements = 4;
  ReaderBudget budget;
  budget.max_elements = limits.max_elements;
  redisReader* reader = redisReaderCreate();
  limit_reader(reader, &budget);
  // Past the budget at once (hiredis alone would allocate 16 GiB of
  // pointers for this count), then in a nested array, then a reply within
  // it: each reply is judged on its own, and the stream stays in step.
  const std::string bytes = "*2147483647\r\n";
  REQUIRE(redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK);
  void* reply = nullptr;
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  CHECK(reply == nullptr);  // waits for the elements, having allocated none of them
  CHECK(budget.exceeded);
  redisReaderFree(reader);

  reader = redisReaderCreate();
  limit_reader(reader, &budget);
  const std::string stream = "*2\r\n*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n$1\r\nx\r\n*2\r\n:1\r\n$1\r\ny\r\n";
  REQUIRE(redisReaderFeed(reader, stream.data(), stream.size()) == REDIS_OK);
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  const RedisReply first = copy_read_reply(static_cast<redisReply*>(reply), budget, limits);
  reader->fn->freeObject(reply);
  CHECK(first.type == Type::error);
  CHECK(first.str == "reply too large (more than 4 elements)");
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  const RedisReply second = copy_read_reply(static_cast<redisReply*>(reply), budget, limits);
  reader->fn->freeObject(reply);
  CHECK_FALSE(budget.exceeded);
  REQUIRE(second.type == Type::array);
  CHECK(second.at(1).str == "y");
  redisReaderFree(reader);

  ReaderBudget roomy;
  roomy.max_elements = 10;
  CHECK(read("*3\r\n:1\r\n:2\r\n*1\r\n:3\r\n", {}, &roomy).at(2).at(0).integer == 3);
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
