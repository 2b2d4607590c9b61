// The backplane's incoming side, as arbitrary bytes: the input is read as a
// bus message (parse_bus_message must never crash, and its views stay inside
// the payload), then as a script of feed events: messages with seqs (in any
// order, with duplicates), heads, repair answers with arbitrary subsets,
// failed repairs. Invariants, whatever the script: the seqs delivered only
// grow; every seq from the anchor to the last delivered is delivered or
// reported in a gap exactly once; repairs ask only for ranges above what
// was delivered; what the feed holds stays within its bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "parley/cluster/bus_message.hpp"
#include "parley/cluster/channel_feed.hpp"

using namespace parley::cluster;

namespace {

struct Checker : ChannelFeed::Sink {
  std::uint64_t last = 0;  // the highest seq delivered or gapped
  std::optional<std::pair<std::uint64_t, std::uint64_t>> asked;
  void deliver(std::uint64_t seq, std::string_view, std::string_view) override { take(seq, seq); }
  void gap(std::uint64_t from, std::uint64_t to) override {
    if (from > to) std::abort();
    take(from, to);
  }
  void repair(std::uint64_t from, std::uint64_t to) override {
    if (from <= last || from > to) std::abort();
    asked.emplace(from, to);
  }
  void take(std::uint64_t from, std::uint64_t to) {
    if (from != last + 1) std::abort();  // nothing skipped, nothing twice
    last = to;
  }
};

void check_views(std::string_view payload, std::string_view part) {
  if (part.empty()) return;
  if (part.data() < payload.data() || part.data() + part.size() > payload.data() + payload.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const BusMessage m = parse_bus_message(payload);
  check_views(payload, m.owner);
  check_views(payload, m.keys);
  check_views(payload, m.line);
  if (m.kind != BusMessage::Kind::invalid && m.kind != BusMessage::Kind::replaced &&
      (m.line.empty() || m.line.back() != '\n'))
    std::abort();

  if (size < 2) return 0;
  const std::size_t max_held = 1 + data[0] % 16;
  ChannelFeed feed(max_held);
  Checker sink;
  const std::uint64_t anchor = data[1] % 8;
  bool anchored = false;
  for (std::size_t i = 2; i + 1 < size; i += 2) {
    const std::uint8_t op = data[i], arg = data[i + 1];
    switch (op % 5) {
      case 0:
      case 1:
        feed.on_message(arg % 64, "n/1", "", sink);
        break;
      case 2:
        if (!anchored) {
          anchored = true;
          sink.last = anchor;
          feed.anchor(anchor, sink);
        } else {
          feed.on_head(arg % 64, sink);
        }
        break;
      case 3:
        if (sink.asked) {  // answer with the seqs whose bit is set in arg
          std::vector<ChannelFeed::Repaired> found;
          for (std::uint64_t s = sink.asked->first, bit = 0; s <= sink.asked->second; ++s, ++bit)
            if (bit < 8 && (arg >> bit) & 1) found.push_back({s, "n/1", ""});
          const auto [from, to] = *sink.asked;
          sink.asked.reset();
          feed.repaired(from, to, found, sink);
        }
        break;
      case 4:
        if (sink.asked) {
          const auto [from, to] = *sink.asked;
          sink.asked.reset();
          feed.repaired(from, to, std::nullopt, sink);
        }
        break;
    }
    if (feed.held() > max_held) std::abort();
    if (anchored && feed.delivered() != sink.last) std::abort();
  }
  return 0;
}
