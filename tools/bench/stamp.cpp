#include "stamp.hpp"

#include <algorithm>

namespace parley::bench {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, std::uint64_t value, int width) {
  for (int shift = (width - 1) * 4; shift >= 0; shift -= 4) out += hex_digits[(value >> shift) & 0xf];
}

bool read_hex(std::string_view text, std::uint64_t& value) {
  value = 0;
  for (char c : text) {
    int digit = 0;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return false;
    value = value << 4 | static_cast<std::uint64_t>(digit);
  }
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
  if (!read_hex(text.substr(0, 8), publisher) || !read_hex(text.substr(8, 12), stamp.counter) ||
      !read_hex(text.substr(20, 16), stamp.sent_ns))
    return std::nullopt;
  stamp.publisher = static_cast<std::uint32_t>(publisher);
  return stamp;
}

}  // namespace parley::bench
