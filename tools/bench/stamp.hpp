// The text of every benchmark message starts with a fixed-width stamp: who
// sent it, its number in that sender's sequence, and the time it was meant
// to be sent. Receivers check order and loss with the first two and latency
// with the third, without any JSON parsing. Hex keeps it plain ASCII, so no
// protocol needs to escape it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::bench {

struct Stamp {
  std::uint32_t publisher = 0;  // the sender's connection index
  std::uint64_t counter = 0;    // 0, 1, 2, ... per sender
  std::uint64_t sent_ns = 0;    // the loader's monotonic clock at the intended send time
};

constexpr std::size_t stamp_size = 8 + 12 + 16;

// Appends the stamp, padded with '.' to `size` bytes (at least stamp_size).
void append_stamped_text(std::string& out, const Stamp& stamp, std::size_t size);
std::optional<Stamp> read_stamp(std::string_view text);

}  // namespace parley::bench
