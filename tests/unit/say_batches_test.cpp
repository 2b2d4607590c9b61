// The cluster's batches of says: one per channel, parley_says' arguments in
// the says' order, full at the say bound or the byte bound, and which
// connection waits in which batch.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "parley/cluster/say_batches.hpp"

using namespace parley::cluster;

namespace {

SayBatches::Fields fields(std::string_view user, std::string_view text) {
  return {user, "n/1", "H", "M", "T", "1000", user, text, "7"};
}

}  // namespace

TEST_CASE("say batches: one per channel, arguments in order, the connection's batch known until taken") {
  SayBatches b("P", "100", 64, 65536);
  CHECK(b.empty());
  CHECK_FALSE(b.add("#a", {1, 0, "#A"}, fields("ann", "one")));
  CHECK_FALSE(b.add("#a", {2, 0, "#a"}, fields("bob", "two")));
  CHECK_FALSE(b.add("#b", {3, 5, "#b"}, fields("cy", "three")));
  CHECK(b.keys() == std::vector<std::string>{"#a", "#b"});
  REQUIRE(b.pending_of(1) != nullptr);
  CHECK(*b.pending_of(1) == "#a");
  CHECK(*b.pending_of(3) == "#b");
  CHECK(b.pending_of(4) == nullptr);

  SayBatches::Batch a = b.take("#a");
  CHECK(a.key == "#a");
  CHECK(a.args == std::vector<std::string>{"P", "#a", "100",                                  //
                                           "ann", "n/1", "H", "M", "T", "1000", "ann", "one", "7",  //
                                           "bob", "n/1", "H", "M", "T", "1000", "bob", "two", "7"});
  REQUIRE(a.says.size() == 2);
  CHECK(a.says[0].conn == 1);
  CHECK(a.says[0].typed == "#A");
  CHECK(a.says[1].conn == 2);
  CHECK(b.pending_of(1) == nullptr);
  CHECK(b.pending_of(2) == nullptr);
  CHECK(b.take("#a").says.empty());
  CHECK(b.take("#b").says.size() == 1);
  CHECK(b.empty());
}

TEST_CASE("say batches: full at the say bound, or once the arguments reach the byte bound") {
  SayBatches by_count("P", "100", 3, 65536);
  CHECK_FALSE(by_count.add("#a", {1, 0, "#a"}, fields("ann", "x")));
  CHECK_FALSE(by_count.add("#a", {1, 1, "#a"}, fields("ann", "x")));
  CHECK(by_count.add("#a", {1, 2, "#a"}, fields("ann", "x")));
  CHECK(by_count.take("#a").says.size() == 3);

  SayBatches by_bytes("P", "100", 64, 1024);
  const std::string text(600, 'x');
  CHECK_FALSE(by_bytes.add("#a", {1, 0, "#a"}, fields("ann", text)));
  CHECK(by_bytes.add("#a", {1, 1, "#a"}, fields("ann", text)));
  const SayBatches::Batch batch = by_bytes.take("#a");
  CHECK(batch.bytes >= 1200);
  CHECK(batch.says.size() == 2);
  CHECK(by_bytes.add("#a", {1, 2, "#a"}, fields("ann", std::string(2000, 'y'))));  // alone past the bound
}
