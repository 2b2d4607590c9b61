#include "parley/transport/ws/utf8.hpp"

#include <cstring>

namespace parley::ws {
namespace {

// Bytes of pure ASCII at the front of [p, end): eight at a time while it can.
const unsigned char* skip_ascii(const unsigned char* p, const unsigned char* end) {
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if ((word & 0x8080808080808080ull) != 0) break;
    p += 8;
  }
  while (p != end && *p < 0x80) ++p;
  return p;
}

}  // namespace

// The decoder of the WHATWG Encoding standard, without the decoding: a lead
// byte fixes how many continuation bytes follow and narrows the range of the
// first one (E0: A0..BF against overlongs, ED: 80..9F against surrogates,
// F0: 90..BF, F4: 80..8F against code points past U+10FFFF).
bool Utf8Validator::feed(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p != end) {
    if (needed_ == 0) {
      p = skip_ascii(p, end);
      if (p == end) break;
      const unsigned char b = *p++;
      if (b >= 0xC2 && b <= 0xDF) {
        needed_ = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        needed_ = 2;
        if (b == 0xE0) lower_ = 0xA0;
        if (b == 0xED) upper_ = 0x9F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        needed_ = 3;
        if (b == 0xF0) lower_ = 0x90;
        if (b == 0xF4) upper_ = 0x8F;
      } else {
        return false;
      }
      continue;
    }
    const unsigned char b = *p++;
    if (b < lower_ || b > upper_) return false;
    lower_ = 0x80;
    upper_ = 0xBF;
    --needed_;
  }
  return true;
}

}  // namespace parley::ws
