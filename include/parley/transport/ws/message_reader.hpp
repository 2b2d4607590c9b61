// What a WebSocket client's frames mean (RFC 6455 5.4-5.6): text messages,
// possibly fragmented, with control frames between the fragments; pings;
// the close frame. Everything else ends the connection with its close code:
// an unmasked frame, reserved bits, an unknown opcode or a continuation out
// of place (1002), a binary message (1003), text that is not UTF-8, checked
// across fragments and inside characters split between them (1007). No
// libuv and no hub: the session implements MessageHandler.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/transport/ws/frame_reader.hpp"
#include "parley/transport/ws/utf8.hpp"

namespace parley::ws {

class MessageHandler {
 public:
  // A piece of a text message, valid UTF-8 so far; `message_end` on the
  // message's last piece (possibly empty). False pauses the reader.
  virtual bool on_text(std::string_view piece, bool message_end) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  // The client's close frame: its code (no_status when it had none). The
  // reader reads nothing more.
  virtual void on_close(std::uint16_t code) = 0;
  // The client broke the protocol: close with `code`. Nothing more is read.
  virtual void on_violation(std::uint16_t code, std::string_view why) = 0;

 protected:
  ~MessageHandler() = default;
};

class MessageReader final : private FrameSink {
 public:
  // drained: every byte used. paused: on_text said stop; `data` keeps what
  // is still to be read (feed it again, even empty, once ready). ended: a
  // close frame or a violation was reported; nothing more will be.
  enum class Status { drained, paused, ended };

  MessageReader(FramePool& pool, MessageHandler& handler) : frames_(pool), handler_(handler) {}

  Status feed(std::string_view& data);
  bool ended() const { return ended_; }
  // A frame context is held (a frame is under way): for memory accounting.
  bool holds_context() const { return frames_.holds_context(); }

 private:
  bool on_chunk(const FrameChunk& chunk) override;
  bool starts_well(const FrameChunk& chunk);
  bool on_control(const FrameChunk& chunk);
  bool on_close_payload();
  bool on_text_chunk(const FrameChunk& chunk);
  bool violation(std::uint16_t code, std::string_view why);

  FrameReader frames_;
  MessageHandler& handler_;
  Utf8Validator utf8_;
  std::string control_;  // a control frame's payload (at most 125 bytes) until its last chunk
  bool in_message_ = false;  // a text message's first frame came, its final one not yet
  bool ended_ = false;
};

}  // namespace parley::ws
