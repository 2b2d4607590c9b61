// The staggered drain's arithmetic (hub/drain_schedule.hpp) by numbers
// alone: when each slot comes, and each client's jittered retry_ms. The hub
// acting on it is in hub_test.cpp.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "parley/hub/drain_schedule.hpp"

using namespace parley;

TEST_CASE("drain schedule: nothing in the grace, then slot k of N at grace_end + k * window / N") {
  DrainSchedule schedule({2000, 5000, 20000, 0}, 1000);
  CHECK(schedule.grace_end_ms() == 6000);
  CHECK(schedule.in_grace(5999));
  CHECK_FALSE(schedule.in_grace(6000));
  schedule.spread(4);
  CHECK(schedule.due(5999) == 0);
  CHECK(schedule.due(6000) == 1);
  CHECK(schedule.due(10999) == 1);
  CHECK(schedule.due(11000) == 2);
  CHECK(schedule.due(21000) == 4);
  CHECK(schedule.due(1'000'000'000) == 4);  // a stalled loop catches up, never past N
  for (std::size_t k = 0; k < 4; ++k) CHECK(schedule.slot_ms(k) == 6000 + 5000 * static_cast<std::int64_t>(k));
}

TEST_CASE("drain schedule: uneven division rounds each slot up, so due(slot_ms(k)) counts k") {
  DrainSchedule schedule({2000, 0, 1000, 0}, 0);
  schedule.spread(3);
  CHECK(schedule.slot_ms(0) == 0);
  CHECK(schedule.slot_ms(1) == 334);
  CHECK(schedule.slot_ms(2) == 667);
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(schedule.due(schedule.slot_ms(k)) == k + 1);
    if (k > 0) CHECK(schedule.due(schedule.slot_ms(k) - 1) == k);
  }
}

TEST_CASE("drain schedule: no window closes everyone as the grace ends; no one left, no slot") {
  DrainSchedule at_end({2000, 300, 0, 0}, 0);
  at_end.spread(1000);
  CHECK(at_end.due(299) == 0);
  CHECK(at_end.due(300) == 1000);
  DrainSchedule empty({2000, 0, 5000, 0}, 0);
  CHECK(empty.due(10000) == 0);
}

TEST_CASE("jittered retry_ms: between half and one and a half times, spread, repeatable from its seed") {
  std::uint64_t state = 7;
  std::uint64_t low = UINT64_MAX, high = 0;
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t r = jittered_retry_ms(2000, state);
    REQUIRE(r >= 1000);
    REQUIRE(r <= 3000);
    low = std::min(low, r);
    high = std::max(high, r);
    if (i < 5) first.push_back(r);
  }
  CHECK(low < 1100);   // the spread really covers the range
  CHECK(high > 2900);
  std::uint64_t again = 7;
  for (std::uint64_t r : first) CHECK(jittered_retry_ms(2000, again) == r);
  CHECK(jittered_retry_ms(0, state) == 0);
}
