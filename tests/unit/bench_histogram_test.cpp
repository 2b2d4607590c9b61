#include <cstdint>
#include <random>

#include <doctest/doctest.h>

#include "histogram.hpp"
#include "stamp.hpp"

using parley::bench::Histogram;

TEST_CASE("histogram: small values are exact") {
  Histogram h;
  for (std::uint64_t v = 0; v < 64; ++v) h.record(v);
  CHECK(h.count() == 64);
  CHECK(h.min() == 0);
  CHECK(h.max() == 63);
  CHECK(h.quantile(0.5) == 31);  // the 32nd smallest of 0..63
  CHECK(h.quantile(1.0) == 63);
  CHECK(h.quantile(0.0) == 0);
}

TEST_CASE("histogram: buckets are contiguous and at most 1/32 of their value wide") {
  std::uint64_t expected_low = 0;
  for (int b = 0; b < Histogram::bucket_count - 1; ++b) {
    const std::uint64_t high = Histogram::bucket_high(b);
    CHECK(Histogram::bucket_of(expected_low) == b);
    CHECK(Histogram::bucket_of(high) == b);
    CHECK(static_cast<double>(high - expected_low + 1) <= static_cast<double>(expected_low) / 32.0 + 1.0);
    expected_low = high + 1;
  }
  CHECK(Histogram::bucket_of(UINT64_MAX) == Histogram::bucket_count - 1);
  CHECK(Histogram::bucket_high(Histogram::bucket_count - 1) == UINT64_MAX);
}

TEST_CASE("histogram: quantiles of a uniform spread are within 3%") {
  Histogram h;
  for (std::uint64_t v = 1; v <= 1'000'000; ++v) h.record(v * 1000);  // 1 us .. 1 s
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 1e9;
    const auto got = static_cast<double>(h.quantile(q));
    CHECK(got >= exact);
    CHECK(got <= exact * 1.032);
  }
  CHECK(h.max() == 1'000'000'000ULL);
  CHECK(h.mean() == doctest::Approx(500'000'500.0));
}

TEST_CASE("histogram: a quantile never exceeds the largest value recorded") {
  Histogram h;
  h.record(1'000'001);
  CHECK(h.quantile(0.99) == 1'000'001);
}

TEST_CASE("histogram: merging equals recording everything in one") {
  std::mt19937_64 rng(7);
  Histogram a, b, all;
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t v = rng() % 10'000'000;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  for (double q : {0.1, 0.5, 0.99}) CHECK(a.quantile(q) == all.quantile(q));
  Histogram empty;
  CHECK(empty.quantile(0.5) == 0);
  CHECK(empty.min() == 0);
}

TEST_CASE("stamp: written and read back at every payload size") {
  using namespace parley::bench;
  const Stamp stamp{0xdeadbeef, 0x123456789abcULL, 0xfedcba9876543210ULL};
  for (std::size_t size : {stamp_size, std::size_t{64}, std::size_t{1024}}) {
    std::string text;
    append_stamped_text(text, stamp, size);
    CHECK(text.size() == size);
    const auto back = read_stamp(text);
    REQUIRE(back);
    CHECK(back->publisher == stamp.publisher);
    CHECK(back->counter == stamp.counter);
    CHECK(back->sent_ns == stamp.sent_ns);
  }
  CHECK_FALSE(read_stamp("short"));
  CHECK_FALSE(read_stamp(std::string(64, 'z')));
}
