// A chat connection on a TCP listener that speaks HTTP (every one, unless
// --no-http): NDJSON exactly as a LineSession unless its first bytes are
// `GET `; then one HTTP request (the web page, a refusal, or the WebSocket
// upgrade) and, after a 101, the chat protocol over RFC 6455 frames: each
// text message holds request lines, each line the server sends is one text
// frame.
//
// Output costs no copy: a buffer the hub shares (one event, or a batch of
// them) is queued with the Framing the WsContext built for it once, so each
// line goes out as a header slice and a slice of the same shared bytes.
//
// Memory: before the upgrade the request reader (bounded by
// --http-max-header); after it, nothing of the handshake. An idle
// WebSocket holds the message reader's few words and no frame context
// (frame_reader.hpp).
//
// Lifetime as for LineSession: the hub owns it; freed from the stream's
// last close callback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "parley/transport/line/line_session.hpp"
#include "parley/transport/ws/frame_reader.hpp"
#include "parley/transport/ws/handshake.hpp"
#include "parley/transport/ws/message_lines.hpp"
#include "parley/transport/ws/message_reader.hpp"
#include "parley/transport/ws/upgrade_reader.hpp"
#include "parley/transport/ws/web_page.hpp"

namespace parley {

struct WsOptions {
  bool http = true;                         // off with --no-http: NDJSON only
  std::size_t max_header_bytes = 8192;      // --http-max-header: request line and headers
  std::uint64_t http_timeout_ms = 10000;    // --http-timeout: for the whole request, from its first byte
  std::uint64_t close_timeout_ms = 5000;    // --ws-close-timeout: for the client's answer to our close frame
  ws::HandshakeOptions handshake;           // --allowed-origin
};

// What every WebSocket-capable session of one server shares.
class WsContext {
 public:
  WsContext(LineContext& lines, WsOptions options, const ws::WebPage& page = ws::web_page())
      : lines_(lines), options_(std::move(options)), page_(page) {}

  LineContext& lines() { return lines_; }
  const WsOptions& options() const { return options_; }
  const ws::WebPage& page() const { return page_; }
  ws::FramePool& frames() { return frames_; }
  // The Framing of `bytes`: one text frame per line, LF left out. The hub
  // queues one buffer for every recipient in a row, so the last one is
  // kept and built once per buffer, not per recipient. A buffer of several
  // lines (a batch) also gets its frames laid out contiguously
  // (Framing::wire), one copy per batch shared by every WebSocket
  // recipient: a 2-byte header per ~150-byte line as its own iovec made the
  // kernel's per-segment copy (_copy_from_iter) 44% of the CPU of a
  // WebSocket fan-out.
  FramingRef framing_for(const Bytes& bytes);

 private:
  LineContext& lines_;
  WsOptions options_;
  const ws::WebPage& page_;
  ws::FramePool frames_;
  Bytes framed_;  // the buffer framing_ is for (held, so its address cannot be reused)
  FramingRef framing_;
};

// As accept_line_session; a TCP connection with HTTP on becomes a
// WsSession, any other a LineSession.
void accept_chat_session(WsContext& context, int fd, TransportKind transport, std::string peer,
                         bool expect_proxy_header);

class WsSession final : public LineSession, private ws::MessageHandler {
 public:
  WsSession(WsContext& context, ConnId id, TransportKind transport, std::string peer);
  ~WsSession() override;

  // Session
  void enqueue(const Bytes& bytes, OutputKind kind) override;
  void flush() override;
  void resume_input() override;

 private:
  enum class Mode : std::uint8_t {
    sniffing,   // fewer than 4 bytes came, all of them a prefix of "GET "
    lines,      // NDJSON
    http,       // reading the request
    websocket,  // upgraded
  };

  // LineSession's hooks
  void on_payload(std::string_view data) override;
  void on_payload_while_closing(std::string_view data) override;
  void queue_goodbye(CloseReason reason) override;
  Bytes wire_farewell(const Bytes& farewell) override;
  void finish_close() override;
  void on_stream_eof() override;
  void on_stream_timer() override;
  void on_stream_written() override;

  // ws::MessageHandler
  bool on_text(std::string_view piece, bool message_end) override;
  void on_ping(std::string_view payload) override;
  void on_close(std::uint16_t code) override;
  void on_violation(std::uint16_t code, std::string_view why) override;

  void sniff(std::string_view data);
  void read_request(std::string_view data);
  void answer(const ws::HttpAnswer& answer, std::string_view rest);
  void respond_and_close(std::string bytes);
  void upgrade(std::string response);
  void name_forwarded_peer(const ws::UpgradeRequest& request);
  void read_frames(std::string_view data);
  void push_raw(std::string bytes);
  bool queue_pong();

  WsContext& ws_;
  ws::MessageLines lines_{framer_};
  std::unique_ptr<ws::UpgradeReader> request_;  // while the request is read
  std::unique_ptr<ws::MessageReader> reader_;   // once upgraded
  std::string held_;                 // bytes not yet read while input is paused
  // Pongs: at most one is in the outbox (sent_pong_, until it is written
  // or dropped), and at most one more waits here with the payload of the
  // latest ping since (RFC 6455 5.5.3 lets us answer only the most recent).
  // A client that pings and never reads thus costs two pongs, not one per
  // ping.
  std::weak_ptr<const std::string> sent_pong_;
  std::string pong_payload_;
  bool pong_due_ = false;
  std::uint16_t violation_code_ = 0;  // the close code of the client's violation
  std::uint16_t client_code_ = 0;     // the code of the client's close frame
  Mode mode_ = Mode::sniffing;
  std::uint8_t sniffed_ = 0;          // bytes of "GET " seen so far
  bool close_received_ = false;       // the client's close frame came
  bool close_sent_ = false;           // ours is queued: nothing may follow it
  bool awaiting_close_ = false;       // ours is written; reading for the client's
};

}  // namespace parley
