#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "parley/chat/message_log.hpp"

using namespace parley;

namespace {

// A log holding seqs first..last (capacity just big enough).
MessageLog log_with(std::uint64_t first, std::uint64_t last, std::size_t capacity) {
  MessageLog log(capacity);
  for (std::uint64_t s = first; s <= last; ++s) log.append(s, 0, "a", "t");
  return log;
}

std::vector<std::uint64_t> seqs(const MessageLog::Page& page) {
  std::vector<std::uint64_t> out;
  for (auto* m : page.messages) out.push_back(m->seq);
  return out;
}

using V = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("history keeps the last capacity messages") {
  MessageLog log = log_with(1, 10, 4);
  CHECK(log.size() == 4);
  CHECK(seqs(log.query({}, {}, 50, 10)) == V{7, 8, 9, 10});
  MessageLog wrapped(3);
  for (std::uint64_t s = 1; s <= 7; ++s)
    wrapped.append(s, static_cast<std::int64_t>(s * 10), "u" + std::to_string(s), std::string(s, 'x'));
  const MessageLog::Page page = wrapped.query({}, {}, 50, 7);
  REQUIRE(seqs(page) == V{5, 6, 7});
  CHECK(page.messages[0]->from == "u5");
  CHECK(page.messages[0]->text == "xxxxx");
  CHECK(page.messages[2]->ts == 70);
  CHECK(page.messages[2]->text == "xxxxxxx");
  MessageLog none(0);
  none.append(1, 0, "a", "t");
  CHECK(none.size() == 0);
  CHECK(seqs(none.query({}, {}, 50, 1)).empty());
}

TEST_CASE("without after: the newest limit messages older than before") {
  MessageLog log = log_with(1, 10, 100);
  CHECK(seqs(log.query({}, {}, 3, 10)) == V{8, 9, 10});
  CHECK(seqs(log.query(8, {}, 3, 10)) == V{5, 6, 7});
  CHECK(seqs(log.query(3, {}, 5, 10)) == V{1, 2});
  CHECK(seqs(log.query(1, {}, 5, 10)).empty());
  CHECK(seqs(log.query(0, {}, 5, 10)).empty());
  CHECK(seqs(log.query(1000, {}, 2, 10)) == V{9, 10});
  CHECK_FALSE(log.query({}, {}, 3, 10).truncated);
}

TEST_CASE("with after: the oldest limit messages newer than after, truncated when lost") {
  MessageLog log = log_with(1, 10, 4);  // keeps 7..10
  auto page = log.query({}, 8, 50, 10);
  CHECK(seqs(page) == V{9, 10});
  CHECK_FALSE(page.truncated);
  page = log.query({}, 6, 50, 10);
  CHECK(seqs(page) == V{7, 8, 9, 10});
  CHECK_FALSE(page.truncated);
  page = log.query({}, 5, 50, 10);  // 6 is gone
  CHECK(seqs(page) == V{7, 8, 9, 10});
  CHECK(page.truncated);
  page = log.query({}, 0, 2, 10);
  CHECK(seqs(page) == V{7, 8});
  CHECK(page.truncated);
  page = log.query(9, 6, 50, 10);
  CHECK(seqs(page) == V{7, 8});
  CHECK_FALSE(page.truncated);
  page = log.query(6, 2, 50, 10);  // wants 3..5, all lost
  CHECK(seqs(page).empty());
  CHECK(page.truncated);
  page = log.query({}, 10, 50, 10);
  CHECK(seqs(page).empty());
  CHECK_FALSE(page.truncated);
  page = log.query({}, 18446744073709551615ULL, 50, 10);
  CHECK(seqs(page).empty());
  CHECK_FALSE(page.truncated);
}
