// Incremental UTF-8 validation for WebSocket text messages, whose bytes may
// be split anywhere: between frames of one message, or inside one character.
//
// Strict RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// past U+10FFFF. The state is three bytes, kept per connection for the
// message in progress.
#pragma once

#include <cstdint>
#include <string_view>

namespace parley::ws {

class Utf8Validator {
 public:
  // False at the first byte that cannot continue valid UTF-8; the state is
  // then meaningless until reset().
  bool feed(std::string_view bytes);
  // Whether the bytes so far end on a character boundary (a message may end here).
  bool at_boundary() const { return needed_ == 0; }
  void reset() { *this = Utf8Validator(); }

 private:
  std::uint8_t needed_ = 0;    // continuation bytes still owed
  std::uint8_t lower_ = 0x80;  // the range the next continuation byte must be in
  std::uint8_t upper_ = 0xBF;
};

}  // namespace parley::ws
