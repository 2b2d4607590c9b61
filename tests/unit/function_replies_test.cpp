// Reading the Redis functions' replies (function_replies.hpp), on replies
// as RespReader reads them off the wire.
#include <string>

#include <doctest/doctest.h>

#include "parley/cluster/function_replies.hpp"
#include "parley/cluster/resp_reader.hpp"

using namespace parley::cluster;

namespace {

RedisReply read(const std::string& bytes) {
  RespReader reader;
  reader.feed(bytes);
  REQUIRE_MESSAGE(reader.next() == RespReader::Status::value, reader.why());
  return reader.reply();
}

}  // namespace

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
