// Our own RESP3 reader: every type and how it maps to RESP2's, values cut
// anywhere across feeds, pushes among replies, and the bounds that break the
// stream before anything over them is buffered or built.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/cluster/resp_reader.hpp"

using namespace parley::cluster;
using Type = RedisReply::Type;

namespace {

// Every value `bytes` holds, fed `chunk` bytes at a time; `broken` gets
// why() if the stream broke.
std::vector<RedisReply> read_all(const std::string& bytes, std::size_t chunk = 0, const RespLimits& limits = {},
                                 std::string* broken = nullptr, std::vector<bool>* pushes = nullptr) {
  RespReader reader(limits);
  std::vector<RedisReply> out;
  if (chunk == 0) chunk = bytes.size() ? bytes.size() : 1;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    reader.feed(std::string_view(bytes).substr(at, chunk));
    for (;;) {
      const RespReader::Status status = reader.next();
      if (status == RespReader::Status::incomplete) break;
      if (status == RespReader::Status::broken) {
        if (broken) *broken = reader.why();
        return out;
      }
      out.push_back(reader.reply());
      if (pushes) pushes->push_back(reader.push());
    }
  }
  return out;
}

RedisReply one(const std::string& bytes) {
  std::string broken;
  std::vector<RedisReply> all = read_all(bytes, 0, {}, &broken);
  INFO(broken);
  REQUIRE(all.size() == 1);
  return all[0];
}

std::string broken_by(const std::string& bytes, const RespLimits& limits = {}) {
  std::string why;
  read_all(bytes, 0, limits, &why);
  return why;
}

}  // namespace

TEST_CASE("resp reader: RESP2's types") {
  CHECK(one("+OK\r\n").type == Type::status);
  CHECK(one("+OK\r\n").str == "OK");
  CHECK(one("-ERR no\r\n").type == Type::error);
  CHECK(one("-ERR no\r\n").str == "ERR no");
  CHECK(one(":-42\r\n").integer == -42);
  CHECK(one("$5\r\nhe\r\no\r\n").str == "he\r\no");  // a bulk string may hold CRLF
  CHECK(one("$0\r\n\r\n").type == Type::string);
  CHECK(one("$-1\r\n").is_nil());
  CHECK(one("*-1\r\n").is_nil());
  const RedisReply a = one("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n");
  REQUIRE(a.type == Type::array);
  REQUIRE(a.elements.size() == 3);
  CHECK(a.at(0).integer == 1);
  CHECK(a.at(1).at(0).str == "a");
  CHECK(a.at(1).at(1).is_nil());
  CHECK(a.at(2).str == "x");
  CHECK(one("*0\r\n").elements.empty());
}

TEST_CASE("resp reader: RESP3's types become what RESP2 would have given") {
  CHECK(one("_\r\n").is_nil());
  CHECK(one("#t\r\n").integer == 1);
  CHECK(one("#t\r\n").type == Type::integer);
  CHECK(one("#f\r\n").is_nil());
  CHECK(one(",3.25\r\n").str == "3.25");
  CHECK(one(",inf\r\n").str == "inf");
  CHECK(one("(3492890328409238509324850943850943825024385\r\n").str == "3492890328409238509324850943850943825024385");
  CHECK(one("!9\r\nERR oh no\r\n").type == Type::error);
  CHECK(one("!9\r\nERR oh no\r\n").str == "ERR oh no");
  CHECK(one("=8\r\ntxt:some\r\n").str == "some");
  const RedisReply map = one("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
  REQUIRE(map.elements.size() == 4);
  CHECK(map.at(0).str == "a");
  CHECK(map.at(3).integer == 2);
  CHECK(one("~2\r\n:1\r\n:2\r\n").elements.size() == 2);
}

TEST_CASE("resp reader: an attribute is skipped, the value it annotates returned in its place") {
  const RedisReply r = one("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n");
  REQUIRE(r.elements.size() == 2);
  CHECK(r.at(0).integer == 2039123);
  const RedisReply inner = one("*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:7\r\n");
  REQUIRE(inner.elements.size() == 2);
  CHECK(inner.at(0).str == "v");
  CHECK(inner.at(1).integer == 7);
  CHECK(one("|0\r\n:5\r\n").integer == 5);
  // Any number in a row (each empty one counts toward no bound): skipped
  // in a loop, not one stack frame each.
  std::string many;
  for (int i = 0; i < 200000; ++i) many += i % 2 ? "|0\r\n" : "|1\r\n+k\r\n:1\r\n";
  CHECK(one(many + ":6\r\n").integer == 6);
  CHECK(one("*2\r\n" + many + ":7\r\n" + many + ":8\r\n").at(1).integer == 8);
}

TEST_CASE("resp reader: pushes come between replies, each flagged, in stream order") {
  const std::string bytes =
      ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
      "*2\r\n$2\r\nok\r\n:7\r\n"
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
  std::vector<bool> pushes;
  const std::vector<RedisReply> all = read_all(bytes, 0, {}, nullptr, &pushes);
  REQUIRE(all.size() == 3);
  CHECK(pushes == std::vector<bool>{true, false, true});
  CHECK(all[1].at(1).integer == 7);
  CHECK(all[2].at(2).str == "hello");
}

TEST_CASE("resp reader: a stream cut anywhere reads as it does whole") {
  const std::string bytes =
      "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n#t\r\n|1\r\n+a\r\n+b\r\n=7\r\ntxt:abc\r\n"
      ">2\r\n$7\r\nmessage\r\n_\r\n:123456789\r\n-ERR x\r\n$-1\r\n";
  const std::vector<RedisReply> whole = read_all(bytes);
  REQUIRE(whole.size() == 5);
  for (std::size_t chunk = 1; chunk <= 7; ++chunk) {
    CHECK(read_all(bytes, chunk) == whole);
  }
  CHECK(whole[0].at(2).str == "abc");
}

TEST_CASE("resp reader: the nodes of a value are in pre-order, views into what was fed") {
  RespReader reader;
  reader.feed("*2\r\n*1\r\n$3\r\nabc\r\n:9\r\n+next");
  REQUIRE(reader.next() == RespReader::Status::value);
  const std::vector<RespNode>& n = reader.nodes();
  REQUIRE(n.size() == 4);
  CHECK(n[0].size == 2);
  CHECK(n[0].end == 4);
  CHECK(n[1].end == 3);
  CHECK(n[2].text == "abc");
  CHECK(n[3].integer == 9);
  CHECK(!reader.push());
  CHECK(reader.next() == RespReader::Status::incomplete);
  CHECK(reader.buffered() == 5);
  reader.feed("\r\n");
  REQUIRE(reader.next() == RespReader::Status::value);
  CHECK(reader.reply().str == "next");
  CHECK(reader.buffered() == 7);  // until the next call consumes it
  CHECK(reader.next() == RespReader::Status::incomplete);
  CHECK(reader.buffered() == 0);
}

TEST_CASE("resp reader: malformed input breaks the stream, and it stays broken") {
  CHECK(broken_by("?\r\n") == "an unknown type byte");
  CHECK(broken_by("\r\n") == "a header without a type");
  CHECK(broken_by("+OK\rX\r\n") == "a header not ended by CRLF");
  CHECK(broken_by(":12a\r\n") == "an integer that is not one");
  CHECK(broken_by(":\r\n") == "an integer that is not one");
  CHECK(broken_by(":+1\r\n") == "an integer that is not one");
  CHECK(broken_by(":99999999999999999999\r\n") == "an integer that is not one");
  CHECK(broken_by("$-2\r\n") == "a string with a bad length");
  CHECK(broken_by("!-1\r\n") == "a string with a bad length");
  CHECK(broken_by("$3\r\nabcd\r\n") == "a string not ended by CRLF");
  CHECK(broken_by("=3\r\ntxt\r\n") == "a verbatim string without its format");
  CHECK(broken_by("*-2\r\n") == "an aggregate with a bad count");
  CHECK(broken_by("%-1\r\n") == "an aggregate with a bad count");
  CHECK(broken_by("#x\r\n") == "a boolean neither t nor f");
  CHECK(broken_by("_x\r\n") == "a null with content");
  RespReader reader;
  reader.feed("?\r\n");
  CHECK(reader.next() == RespReader::Status::broken);
  reader.feed("+OK\r\n");
  CHECK(reader.next() == RespReader::Status::broken);
}

TEST_CASE("resp reader: the bounds break the stream before their bytes are kept or built") {
  RespLimits small;
  small.max_depth = 3;
  small.max_elements = 10;
  small.max_bytes = 100;
  CHECK(broken_by("*1\r\n*1\r\n*1\r\n:1\r\n", small).empty());
  CHECK(broken_by("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", small) == "reply too deep (more than 3 levels)");
  CHECK(broken_by("*10\r\n", small).empty());  // incomplete, not broken
  CHECK(broken_by("*11\r\n", small) == "reply too large (more than 10 elements)");
  CHECK(broken_by("%6\r\n", small) == "reply too large (more than 10 elements)");
  CHECK(broken_by("*2\r\n*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n*5\r\n", small) ==
        "reply too large (more than 10 elements)");
  // A declared length over the bound breaks at once, not after its bytes.
  CHECK(broken_by("$2147483647\r\n", small) == "reply longer than 100 bytes");
  CHECK(broken_by("*2147483647\r\n") == "reply too large (more than 1048576 elements)");
  CHECK(broken_by("+" + std::string(200, 'x'), small) == "reply longer than 100 bytes");
  // The bound is per value: many small values in one feed are fine.
  std::string many;
  for (int i = 0; i < 100; ++i) many += ":1\r\n";
  CHECK(read_all(many, 0, small).size() == 100);
}

TEST_CASE("resp reader: a long header fed a byte at a time is searched once") {
  const std::string bytes = "+" + std::string(100000, 'x') + "\r\n";
  const std::vector<RedisReply> all = read_all(bytes, 1);
  REQUIRE(all.size() == 1);
  CHECK(all[0].str.size() == 100000);
}
