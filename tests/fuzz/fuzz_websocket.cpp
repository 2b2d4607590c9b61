// The WebSocket transport's readers on arbitrary bytes in arbitrary chunks
// (the first byte picks the chunk size and whether the line consumer
// pauses): the HTTP upgrade reader on the whole input, then the frame and
// message readers (wslay underneath) on the same bytes.
//
// The upgrade reader: every feed ends in need-more using every byte, a
// complete request within the header bound, or an error status from the
// documented set. The message reader: text handed over is valid UTF-8
// (whole messages end on a character boundary), nothing is reported after
// the close or a violation, a violation's code is one of 1002/1003/1007/
// 1011, paused input is kept and read again in order, and the same bytes
// fed at once give the same messages and the same end. (One leeway: a
// message's text is validated piece by piece as it arrives, so lines that
// came before an invalid byte in smaller pieces were already handed over:
// then the lines of one run need only be a prefix of the other's.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parley/transport/ws/message_lines.hpp"
#include "parley/transport/ws/message_reader.hpp"
#include "parley/transport/ws/upgrade_reader.hpp"
#include "parley/transport/ws/utf8.hpp"

using namespace parley::ws;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void read_request(std::string_view input, std::size_t chunk) {
  UpgradeReader reader(256 + chunk * 16);
  for (std::size_t at = 0; at < input.size();) {
    const std::string_view piece = input.substr(at, chunk);
    const UpgradeReader::Result r = reader.feed(piece);
    require(r.used <= piece.size());
    require(reader.header_bytes() <= 256 + chunk * 16);
    if (r.status == UpgradeReader::Status::need_more) {
      require(r.used == piece.size());
      at += r.used;
      continue;
    }
    if (r.status == UpgradeReader::Status::error)
      require(r.http_status == 400 || r.http_status == 431 || r.http_status == 505);
    return;
  }
}

struct Run : MessageHandler {
  std::vector<std::string> lines;
  std::vector<std::string> pings;
  std::uint16_t close = 0;
  std::uint16_t violation = 0;
  bool ended = false;
  bool pause_every_other = false;
  unsigned calls = 0;
  parley::LineFramer framer{64};
  MessageLines splitter{framer};
  Utf8Validator message;  // the text of the message in progress, as handed over

  bool on_text(std::string_view piece, bool end) override {
    require(!ended);
    require(message.feed(piece));
    if (end) {
      require(message.at_boundary());
      message.reset();
    }
    const auto status = splitter.feed(piece, end, [&](std::string_view line) {
      lines.emplace_back(line);
      return !pause_every_other || ++calls % 2 == 0;
    });
    if (status == MessageLines::Status::line_too_long) {
      lines.emplace_back("<too long>");
      ended = true;
      return false;
    }
    return status == MessageLines::Status::drained;
  }
  void on_ping(std::string_view payload) override {
    require(!ended && payload.size() <= 125);
    pings.emplace_back(payload);
  }
  void on_close(std::uint16_t code) override {
    require(!ended);
    ended = true;
    close = code;
  }
  void on_violation(std::uint16_t code, std::string_view) override {
    require(!ended);
    require(code == 1002 || code == 1003 || code == 1007 || code == 1011);
    ended = true;
    violation = code;
  }
  bool operator==(const Run& o) const {
    return lines == o.lines && pings == o.pings && close == o.close && violation == o.violation;
  }
};

// Feeds `input` `chunk` bytes at a time; a pause is resumed at once (the
// splitter's lines first, then the kept bytes), as a session does.
void read_frames(std::string_view input, std::size_t chunk, bool pausing, Run& run) {
  FramePool pool;
  MessageReader reader(pool, run);
  run.pause_every_other = pausing;
  for (std::size_t at = 0; at < input.size() && !run.ended; at += chunk) {
    std::string_view piece = input.substr(at, chunk);
    while (!run.ended) {
      const MessageReader::Status s = reader.feed(piece);
      if (s != MessageReader::Status::paused) break;
      bool drained = false;
      while (!drained && !run.ended) {
        const auto status = run.splitter.resume([&](std::string_view line) {
          run.lines.emplace_back(line);
          return ++run.calls % 2 == 0;
        });
        if (status == MessageLines::Status::line_too_long) {
          run.lines.emplace_back("<too long>");
          run.ended = true;
        }
        drained = status == MessageLines::Status::drained;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const bool pausing = (data[0] & 0x80) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  read_request(input, chunk);
  Run pieces, whole;
  read_frames(input, chunk, pausing, pieces);
  read_frames(input, input.size() + 1, false, whole);
  const bool cut = pieces.violation || whole.violation || (!pieces.lines.empty() && pieces.lines.back() == "<too long>") ||
                   (!whole.lines.empty() && whole.lines.back() == "<too long>");
  if (!cut) {
    require(pieces == whole);
  } else {
    const std::size_t common = std::min(pieces.lines.size(), whole.lines.size());
    for (std::size_t i = 0; i + 1 < common; ++i) require(pieces.lines[i] == whole.lines[i]);
  }
  return 0;
}
