#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/protocol/framer.hpp"

using namespace parley;
using Status = LineFramer::Status;

namespace {

struct Collect {
  std::vector<std::string> lines;
  bool operator()(std::string_view line) {
    lines.emplace_back(line);
    return true;
  }
};

}  // namespace

TEST_CASE("framer splits on LF, drops CR before LF, skips empty lines") {
  LineFramer framer(100);
  Collect c;
  CHECK(framer.feed("a\nb\r\n\n\r\nc\rd\n", std::ref(c)) == Status::drained);
  CHECK(c.lines == std::vector<std::string>{"a", "b", "c\rd"});
  CHECK(framer.buffered() == 0);
}

TEST_CASE("framer joins a line delivered one byte at a time") {
  LineFramer framer(100);
  Collect c;
  const std::string input = "{\"cmd\":\"ping\"}\r\nsecond\n";
  for (char ch : input) CHECK(framer.feed(std::string_view(&ch, 1), std::ref(c)) == Status::drained);
  CHECK(c.lines == std::vector<std::string>{"{\"cmd\":\"ping\"}", "second"});
}

TEST_CASE("framer: max_line bytes pass, one more is line_too_long") {
  Collect c;
  LineFramer exact(5);
  CHECK(exact.feed("12345\n", std::ref(c)) == Status::drained);
  LineFramer over(5);
  CHECK(over.feed("123456\n", std::ref(c)) == Status::line_too_long);
  CHECK(c.lines == std::vector<std::string>{"12345"});
}

TEST_CASE("framer never buffers more than max_line bytes of an unfinished line") {
  Collect c;
  LineFramer framer(5);
  CHECK(framer.feed("123", std::ref(c)) == Status::drained);
  CHECK(framer.feed("45", std::ref(c)) == Status::drained);
  CHECK(framer.buffered() == 5);
  CHECK(framer.feed("6", std::ref(c)) == Status::line_too_long);
  LineFramer fresh(5);
  CHECK(fresh.feed("ok\n123456", std::ref(c)) == Status::line_too_long);
}

TEST_CASE("framer pauses on request and resumes with the kept lines") {
  LineFramer framer(100);
  std::vector<std::string> lines;
  auto take_one = [&](std::string_view line) {
    lines.emplace_back(line);
    return false;
  };
  CHECK(framer.feed("a\nb\nc", take_one) == Status::paused);
  CHECK(lines == std::vector<std::string>{"a"});
  CHECK(framer.has_pending_lines());
  CHECK(framer.resume(take_one) == Status::paused);
  CHECK(lines == std::vector<std::string>{"a", "b"});
  Collect rest;
  CHECK(framer.resume(std::ref(rest)) == Status::drained);
  CHECK(rest.lines.empty());
  CHECK(framer.buffered() == 1);  // the unfinished "c"
  CHECK(framer.feed("\n", std::ref(rest)) == Status::drained);
  CHECK(rest.lines == std::vector<std::string>{"c"});
}
