#include "stamp.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace parley::bench {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, std::uint64_t value, int width) {
  for (int shift = (width - 1) * 4; shift >= 0; shift -= 4) out += hex_digits[(value >> shift) & 0xf];
}

// Every received message is read here, so 8 digits are decoded at once
// (SWAR): each byte becomes its nibble, then pairs of nibbles, bytes and
// halves are folded together. The check only makes sure every byte is in
// '0'..'?' or 'a'..'o' (what the folding assumes); our own stamps are
// always valid, and that is enough to reject texts that are not stamps.
std::uint64_t load8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  if constexpr (std::endian::native == std::endian::big) x = __builtin_bswap64(x);
  return x;
}

bool hex8(const char* p, std::uint64_t& value) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  std::uint64_t x = load8(p);
  const std::uint64_t high = (x & (0xF0 * ones)) ^ (0x30 * ones);  // digits: 0x00, letters: 0x50
  if ((high & (0xA0 * ones)) != 0 || ((high >> 4) & ones) != ((high >> 6) & ones)) return false;
  x = (x & (0x0F * ones)) + 9 * ((x >> 6) & ones);  // each byte: its digit's value
  x = __builtin_bswap64(x);                          // the first digit in the top byte
  x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
  value = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
  return true;
}

// `digits` hex digits (a multiple of 4, at most 16), read as groups of 8
// from the end backwards: the first group may overlap what precedes it,
// which is then shifted out.
bool read_hex(const char* p, int digits, std::uint64_t& value) {
  std::uint64_t high = 0, low = 0;
  if (!hex8(p + digits - 8, low)) return false;
  if (digits > 8) {
    if (!hex8(p + digits - 16, high)) return false;
    high &= digits == 16 ? 0xFFFFFFFFULL : (1ULL << (4 * (digits - 8))) - 1;
  }
  value = high << 32 | low;
  return true;
}

}  // namespace

void append_stamped_text(std::string& out, const Stamp& stamp, std::size_t size) {
  append_hex(out, stamp.publisher, 8);
  append_hex(out, stamp.counter, 12);
  append_hex(out, stamp.sent_ns, 16);
  out.append(std::max(size, stamp_size) - stamp_size, '.');
}

std::optional<Stamp> read_stamp(std::string_view text) {
  if (text.size() < stamp_size) return std::nullopt;
  std::uint64_t publisher = 0;
  Stamp stamp;
  const char* p = text.data();
  if (!read_hex(p, 8, publisher) || !read_hex(p + 8, 12, stamp.counter) || !read_hex(p + 20, 16, stamp.sent_ns))
    return std::nullopt;
  stamp.publisher = static_cast<std::uint32_t>(publisher);
  return stamp;
}

}  // namespace parley::bench
