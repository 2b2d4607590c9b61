#include "parley/transport/ws/ws_session.hpp"

#include <memory>
#include <utility>

#include "parley/log/log.hpp"
#include "parley/transport/ws/close_code.hpp"
#include "parley/transport/ws/frame_header.hpp"

namespace parley {
namespace {

constexpr std::string_view get_prefix = "GET ";

Bytes shared(std::string bytes) { return std::make_shared<const std::string>(std::move(bytes)); }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

// ---- the shared part ---------------------------------------------------------

FramingRef WsContext::framing_for(const Bytes& bytes) {
  if (bytes == framed_) return framing_;
  auto framing = std::make_shared<Framing>();
  const std::string& text = *bytes;
  char header[ws::max_frame_header];
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      const std::size_t size = ws::write_frame_header(header, ws::Opcode::text, end - start);
      framing->pieces.push_back({static_cast<std::uint32_t>(framing->headers.size()), static_cast<std::uint32_t>(size),
                                 static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end - start)});
      framing->headers.append(header, size);
      framing->wire_size += size + (end - start);
    }
    start = end + 1;
  }
  if (framing->pieces.size() > 1) {
    framing->wire.reserve(framing->wire_size);
    for (const Framing::Piece& piece : framing->pieces) {
      framing->wire.append(framing->headers, piece.header_offset, piece.header_size);
      framing->wire.append(text, piece.payload_offset, piece.payload_size);
    }
  }
  framed_ = bytes;
  framing_ = std::move(framing);
  return framing_;
}

void accept_chat_session(WsContext& context, int fd, TransportKind transport, std::string peer,
                         bool expect_proxy_header) {
  if (transport != TransportKind::tcp || !context.options().http)
    return accept_line_session(context.lines(), fd, transport, std::move(peer), expect_proxy_header);
  Hub& hub = context.lines().hub;
  accept_stream_session(hub, std::make_unique<WsSession>(context, hub.next_id(), transport, std::move(peer)), fd,
                        expect_proxy_header);
}

WsSession::WsSession(WsContext& context, ConnId id, TransportKind transport, std::string peer)
    : LineSession(context.lines(), id, transport, std::move(peer)), ws_(context) {}

WsSession::~WsSession() = default;

// ---- which protocol ----------------------------------------------------------

void WsSession::on_payload(std::string_view data) {
  switch (mode_) {
    case Mode::lines: return LineSession::on_payload(data);
    case Mode::sniffing: return sniff(data);
    case Mode::http: return read_request(data);
    case Mode::websocket: return read_frames(data);
  }
}

// Decides on the first bytes, however few each read brings: `GET ` is
// HTTP, anything else NDJSON (which a prefix of "GET " then starts).
void WsSession::sniff(std::string_view data) {
  while (!data.empty() && sniffed_ < get_prefix.size()) {
    if (data.front() != get_prefix[sniffed_]) {
      mode_ = Mode::lines;
      if (sniffed_ > 0) LineSession::on_payload(get_prefix.substr(0, sniffed_));  // no LF: just kept
      if (open()) LineSession::on_payload(data);
      return;
    }
    ++sniffed_;
    data.remove_prefix(1);
  }
  if (sniffed_ < get_prefix.size()) return;
  mode_ = Mode::http;
  request_ = std::make_unique<ws::UpgradeReader>(ws_.options().max_header_bytes);
  stream_.start_timer(ws_.options().http_timeout_ms);  // the request's deadline replaces the idle timer
  (void)request_->feed(get_prefix);
  read_request(data);
}

void WsSession::read_request(std::string_view data) {
  const ws::UpgradeReader::Result r = request_->feed(data);
  switch (r.status) {
    case ws::UpgradeReader::Status::need_more: return;
    case ws::UpgradeReader::Status::error: return respond_and_close(ws::http_error(r.http_status));
    case ws::UpgradeReader::Status::complete:
      return answer(ws::answer_request(request_->request(), ws_.options().handshake, ws_.page()), data.substr(r.used));
  }
}

void WsSession::answer(const ws::HttpAnswer& answer, std::string_view rest) {
  if (!answer.upgrade) {
    log::write(LogLevel::debug, connection_number(id()), peer(),
               "HTTP " + std::to_string(answer.status) + " for " + request_->request().target);
    return respond_and_close(answer.bytes);
  }
  name_forwarded_peer(request_->request());
  upgrade(answer.bytes);
  read_frames(rest);  // a client may send frames before it reads the 101
}

// An HTTP answer that ends the connection (the page, or a refusal).
void WsSession::respond_and_close(std::string bytes) {
  request_.reset();
  push_raw(std::move(bytes));
  hub().close(*this, CloseReason::http_request);
}

// The 101 goes out, and nothing of the request is kept.
void WsSession::upgrade(std::string response) {
  request_.reset();
  push_raw(std::move(response));
  mode_ = Mode::websocket;
  ws::MessageHandler& handler = *this;  // a private base: converted here, not inside make_unique
  reader_ = std::make_unique<ws::MessageReader>(ws_.frames(), handler);
  log::write(LogLevel::debug, connection_number(id()), peer(), "upgraded to WebSocket");
  // The idle clock starts now: the handshake's time is not the client's silence.
  last_input_ms_ = stream_.now_ms();
  pings_sent_ = 0;
  arm_idle_timer();
}

// Behind an HTTP proxy we trust (--trusted-proxy, which must be given:
// anyone can write the header), its X-Forwarded-For names the client: the
// last address, the one that proxy added.
void WsSession::name_forwarded_peer(const ws::UpgradeRequest& request) {
  const std::vector<Cidr>& trusted = options().trusted_proxies;
  if (request.forwarded_for.empty() || trusted.empty() || !any_contains(trusted, peer_ip())) return;
  const std::string_view list = request.forwarded_for;
  const std::size_t comma = list.rfind(',');
  const std::string_view client = trimmed(comma == std::string_view::npos ? list : list.substr(comma + 1));
  std::string error;
  if (client.find('/') != std::string_view::npos || !parse_cidr(client, error)) return;
  log::write(LogLevel::info, connection_number(id()), std::string(client), "connected through HTTP proxy " + peer());
  rename_peer(std::string(client));
}

void WsSession::push_raw(std::string bytes) {
  stream_.outbox().push(shared(std::move(bytes)), OutputKind::reply);
  hub().mark_dirty(*this);
}

// ---- frames in -----------------------------------------------------------------

void WsSession::read_frames(std::string_view data) {
  switch (reader_->feed(data)) {
    case ws::MessageReader::Status::paused: held_.assign(data); return;
    case ws::MessageReader::Status::drained:
    case ws::MessageReader::Status::ended: return;
  }
}

// Lines go to the hub exactly as the line transport hands them over; while
// closing (awaiting the client's close frame) text is read and dropped.
bool WsSession::on_text(std::string_view piece, bool message_end) {
  if (awaiting_close_) return true;
  if (!open()) return false;
  after_framing(lines_.feed(piece, message_end, [this](std::string_view line) { return on_line(line); }));
  return open() && !input_paused_;
}

// The pong is queued at the next flush, unless the last one is still unsent:
// then it waits, and a later ping only replaces its payload.
void WsSession::on_ping(std::string_view payload) {
  if (!open()) return;
  pong_payload_.assign(payload);
  pong_due_ = true;
  hub().mark_dirty(*this);
}

// Queues the due pong when no earlier one is left in the outbox; true if it did.
bool WsSession::queue_pong() {
  if (!pong_due_ || !sent_pong_.expired()) return false;
  pong_due_ = false;
  if (stream_.closed() || close_sent_ || !open()) return false;
  Bytes frame = shared(ws::control_frame(ws::Opcode::pong, pong_payload_));
  std::string().swap(pong_payload_);
  sent_pong_ = frame;
  stream_.outbox().push(std::move(frame), OutputKind::reply);
  return true;
}

void WsSession::flush() {
  queue_pong();
  LineSession::flush();
  if (queue_pong()) LineSession::flush();  // the earlier pong was written just now
}

// A due pong that waited for the earlier one to be written needs a flush.
void WsSession::on_stream_written() {
  LineSession::on_stream_written();
  if (pong_due_) hub().mark_dirty(*this);
}

// The client closes: like a half-close, its requests are answered first,
// then our close frame echoes its code.
void WsSession::on_close(std::uint16_t code) {
  close_received_ = true;
  client_code_ = code == ws::no_status ? ws::normal_closure : code;
  if (awaiting_close_) return stream_.close();
  LineSession::on_stream_eof();
}

void WsSession::on_violation(std::uint16_t code, std::string_view why) {
  if (awaiting_close_) return stream_.close();
  if (!open()) return;
  violation_code_ = code;
  log::write(LogLevel::info, connection_number(id()), peer(),
             "WebSocket close " + std::to_string(code) + ": " + std::string(why));
  hub().close(*this, CloseReason::ws_violation);
}

void WsSession::resume_input() {
  if (mode_ != Mode::websocket) return LineSession::resume_input();
  if (!input_paused_ || !open()) return;
  input_paused_ = false;
  after_framing(lines_.resume([this](std::string_view line) { return on_line(line); }));
  if (!open() || input_paused_) return;
  const std::string held = std::move(held_);
  held_.clear();
  read_frames(held);  // also what wslay kept, when nothing is held
  read_again();
}

// ---- frames out ----------------------------------------------------------------

void WsSession::enqueue(const Bytes& bytes, OutputKind kind) {
  switch (mode_) {
    case Mode::websocket:
      if (!stream_.closed() && !close_sent_) stream_.outbox().push(bytes, ws_.framing_for(bytes), kind);
      return;
    case Mode::http: return;  // nothing but the answer goes out before the upgrade
    case Mode::sniffing:
    case Mode::lines: return LineSession::enqueue(bytes, kind);
  }
}

// ---- closing -------------------------------------------------------------------

// After what is queued (the `error` event, for a fatal error): the close
// frame, with the code the contract gives the reason.
void WsSession::queue_goodbye(CloseReason reason) {
  request_.reset();
  if (mode_ != Mode::websocket || close_sent_) return;
  std::string frame;
  if (reason == CloseReason::ws_violation)
    frame = ws::close_frame(violation_code_, {});
  else if (close_received_)
    frame = ws::close_frame(client_code_, {});
  else
    frame = ws::close_frame(ws::close_code_for(reason), ws::close_text_for(reason));
  stream_.outbox().push(shared(std::move(frame)), OutputKind::reply);
  close_sent_ = true;
}

// The one farewell is slow_consumer's `error` event: framed, then closed
// with 1008. Nothing once our close frame is queued (nothing may follow it),
// nor before the upgrade (an HTTP client reads no NDJSON).
Bytes WsSession::wire_farewell(const Bytes& farewell) {
  if (mode_ == Mode::lines || mode_ == Mode::sniffing) return farewell;
  if (mode_ == Mode::http || close_sent_) return {};
  std::string_view line = *farewell;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  char header[ws::max_frame_header];
  std::string bytes(header, ws::write_frame_header(header, ws::Opcode::text, line.size()));
  bytes += line;
  bytes += ws::close_frame(ws::close_code_for(CloseReason::slow_consumer), wire_text(CloseReason::slow_consumer));
  close_sent_ = true;
  return shared(std::move(bytes));
}

// Our close frame is written. The client answers with its own (RFC 6455
// 7.1.1: then we close the TCP connection), within --ws-close-timeout; a
// client that already sent its own, or broke the protocol, is not waited for.
void WsSession::finish_close() {
  if (mode_ != Mode::websocket || !close_sent_ || close_received_ || eof_ || reader_->ended())
    return stream_.close();
  awaiting_close_ = true;
  stream_.start_timer(ws_.options().close_timeout_ms);
  if (!stream_.start_reading()) return stream_.close();
  const std::string held = std::move(held_);
  held_.clear();
  read_frames(held);
}

void WsSession::on_payload_while_closing(std::string_view data) {
  if (awaiting_close_) read_frames(data);
}

void WsSession::on_stream_eof() {
  if (awaiting_close_) return stream_.close();
  LineSession::on_stream_eof();
}

// Before the upgrade the timer is the request's deadline.
void WsSession::on_stream_timer() {
  if (mode_ == Mode::http && open()) return respond_and_close(ws::http_error(408));
  LineSession::on_stream_timer();
}

}  // namespace parley
