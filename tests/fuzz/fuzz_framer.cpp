// The line framer on arbitrary bytes in arbitrary chunks, with pauses.
// Checked against a plain reference split of the same bytes: the same lines
// in the same order, never a line over max_line, never more than max_line
// bytes of an unfinished line kept, line_too_long exactly when due.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parley/protocol/framer.hpp"

using parley::LineFramer;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Reference {
  std::vector<std::string> lines;
  bool too_long = false;
};

// What the framer must produce for the whole input at once.
Reference reference(std::string_view input, std::size_t max_line) {
  Reference r;
  std::size_t start = 0;
  for (;;) {
    const auto lf = input.find('\n', start);
    if (lf == std::string_view::npos) {
      r.too_long = input.size() - start > max_line;
      return r;
    }
    std::string_view line = input.substr(start, lf - start);
    if (line.size() > max_line) {
      r.too_long = true;
      return r;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) r.lines.emplace_back(line);
    start = lf + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max_line = 1 + data[0] % 64;
  const std::size_t chunk = 1 + data[1] % 32;
  const std::uint8_t pause_every = data[2];  // pause after every n-th line (0: never)
  const std::string_view input(reinterpret_cast<const char*>(data) + 3, size - 3);

  LineFramer framer(max_line);
  std::vector<std::string> got;
  unsigned count = 0;
  auto on_line = [&](std::string_view line) {
    require(!line.empty() && line.size() <= max_line && line.find('\n') == std::string_view::npos);
    got.emplace_back(line);
    return pause_every == 0 || ++count % pause_every != 0;
  };
  bool too_long = false;
  for (std::size_t at = 0; at < input.size() && !too_long; at += chunk) {
    auto status = framer.feed(input.substr(at, chunk), on_line);
    while (status == LineFramer::Status::paused) status = framer.resume(on_line);
    too_long = status == LineFramer::Status::line_too_long;
    if (!too_long) require(framer.buffered() <= max_line);
  }
  const Reference want = reference(input, max_line);
  require(too_long == want.too_long);
  // A line cut short by line_too_long may have been followed by nothing; all
  // lines before it must match exactly.
  require(got == want.lines);
  return 0;
}
