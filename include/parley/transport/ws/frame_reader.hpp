// Reading RFC 6455 frames with wslay's frame API (libwslay), one chunk of
// payload at a time, unmasked. Frame syntax is wslay's to check (control
// frames of at most 125 bytes and never fragmented, minimal length
// encodings); what the frames mean is the MessageReader's.
//
// Memory: a wslay frame context holds a 4 KiB input buffer, too much for
// every idle connection. A reader therefore holds one only while a frame is
// under way (or wslay holds bytes of the next one); once every byte it was
// given belongs to a finished frame, the context goes back to the loop's
// FramePool, which keeps one spare for whoever reads next. An idle
// WebSocket owns no frame context at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

struct wslay_frame_context;

namespace parley::ws {

// One piece of a frame's payload as wslay hands it over.
struct FrameChunk {
  std::uint8_t opcode = 0;
  std::uint8_t rsv = 0;
  bool fin = false;
  bool masked = false;
  std::uint64_t payload_length = 0;  // of the whole frame
  std::string_view data;             // unmasked; borrowed for the call
  bool first = false;                // the frame's first chunk: its header was just read
  bool last = false;                 // the frame's last chunk
};

class FrameSink {
 public:
  // False stops the reader (pause, or the end of the connection).
  virtual bool on_chunk(const FrameChunk& chunk) = 0;

 protected:
  ~FrameSink() = default;
};

// The loop's spare frame context and the input the contexts read from (one
// thread, one read at a time: a context reads only during its owner's feed).
class FramePool {
 public:
  FramePool() = default;
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  wslay_frame_context* take();  // nullptr when out of memory
  void give(wslay_frame_context* context);
  std::string_view& input() { return input_; }

 private:
  wslay_frame_context* spare_ = nullptr;
  std::string_view input_;  // what the reading context's recv callback takes from
};

class FrameReader {
 public:
  enum class Status { drained, stopped, protocol_error, no_memory };

  explicit FrameReader(FramePool& pool) : pool_(pool) {}
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Reads the frames in `data` (after any bytes wslay kept from before) and
  // hands each chunk to `sink`. drained: every byte is used. stopped: the
  // sink said stop; `data` is left holding the bytes not yet handed to
  // wslay, to feed again (with what wslay kept, which an empty feed reads).
  // protocol_error: the bytes are no WebSocket; feed no more.
  Status feed(std::string_view& data, FrameSink& sink);
  // Holds a frame context (some frame is under way).
  bool holds_context() const { return context_ != nullptr; }

 private:
  bool at_rest() const { return !in_frame_ && handed_ == framed_; }
  void release();

  FramePool& pool_;
  wslay_frame_context* context_ = nullptr;
  std::uint64_t handed_ = 0;  // bytes given to wslay since the context was taken
  std::uint64_t framed_ = 0;  // ... of which whole frames (headers included) are done
  std::uint64_t frame_read_ = 0;  // payload bytes of the frame under way
  bool in_frame_ = false;
};

}  // namespace parley::ws
