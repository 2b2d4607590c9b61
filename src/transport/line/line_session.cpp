#include "parley/transport/line/line_session.hpp"

#include <algorithm>

#include "parley/log/log.hpp"
#include "parley/protocol/encode.hpp"
#include "parley/protocol/proxy_header.hpp"

namespace parley {

void accept_line_session(LineContext& context, int fd, TransportKind transport, std::string peer,
                         bool expect_proxy_header) {
  Hub& hub = context.hub;
  accept_stream_session(hub, std::make_unique<LineSession>(context, hub.next_id(), transport, std::move(peer)), fd,
                        expect_proxy_header);
}

void accept_stream_session(Hub& hub, std::unique_ptr<LineSession> owned, int fd, bool expect_proxy_header) {
  LineSession& session = *owned;
  hub.add(std::move(owned));
  if (!session.adopt(fd)) {
    hub.close(session, CloseReason::accept_failed);
    return;
  }
  // Refused before admission, so a source that may not speak here takes no
  // client slot; admit() then does nothing.
  if (expect_proxy_header && !session.from_trusted_proxy())
    hub.fatal(session, ErrorCode::bad_proxy_header, session.peer_ip() + " is not a trusted proxy");
  const bool admitted = hub.admit(session);
  // Behind a proxy the real peer is known, and logged, once its header is read.
  if (admitted && !expect_proxy_header)
    log::write(LogLevel::info, connection_number(session.id()), session.peer(), "connected");
  session.start(admitted && expect_proxy_header);
}

LineSession::LineSession(LineContext& context, ConnId id, TransportKind transport, std::string peer)
    : Session(id, transport, std::move(peer)), context_(context), stream_(context.loop, transport, *this),
      framer_(context.options.max_line) {
  last_input_ms_ = stream_.now_ms();
}

void LineSession::start(bool expect_proxy_header) {
  if (!open()) return;  // refused: only its farewell is written
  awaiting_proxy_header_ = expect_proxy_header;
  if (!stream_.start_reading()) return fail(CloseReason::read_error);
  arm_idle_timer();
  if (transport() == TransportKind::tcp && !awaiting_proxy_header_) hub().peer_known(*this, counted_ip());
}

// A Unix socket has no address to check: its file's permissions say who may
// connect.
bool LineSession::from_trusted_proxy() const {
  const std::vector<Cidr>& trusted = options().trusted_proxies;
  return trusted.empty() || transport() != TransportKind::tcp || any_contains(trusted, peer_ip());
}

// "1.2.3.4:5" and "[::1]:5" have a port; a bare address (an X-Forwarded-For
// one: "1.2.3.4", "2001:db8::1") has none.
std::string LineSession::peer_ip() const {
  if (transport() != TransportKind::tcp && !peer_from_header_) return {};
  const std::string& peer = this->peer();
  const auto colon = peer.rfind(':');
  if (colon == std::string::npos || (peer.front() != '[' && peer.find(':') != colon)) return peer;
  std::string_view host(peer.data(), colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

std::string LineSession::counted_ip() const {
  std::string ip = peer_ip();
  return any_contains(options().conn_limit_exempt, ip) ? std::string() : ip;
}

// ---- input ----------------------------------------------------------------

void LineSession::on_stream_data(std::string_view data) {
  hub().bytes_read(*this, data.size());
  if (!open()) return on_payload_while_closing(data);
  if (awaiting_proxy_header_ && !read_proxy_header(data)) return;
  on_payload(data);
}

void LineSession::on_payload(std::string_view data) {
  after_framing(framer_.feed(data, [this](std::string_view line) { return on_line(line); }));
}

// Strips the PROXY header off the first bytes; false while it is incomplete
// or when the session is closing (a bad header, a health check, a refusal).
bool LineSession::read_proxy_header(std::string_view& data) {
  const std::size_t had = proxy_buffer_.size();
  proxy_buffer_.append(data.substr(0, max_proxy_header - std::min(had, max_proxy_header)));
  const ProxyHeader header = parse_proxy_header(proxy_buffer_);
  if (header.status == ProxyHeader::Status::incomplete && proxy_buffer_.size() < max_proxy_header) return false;
  if (header.status != ProxyHeader::Status::complete) {
    hub().fatal(*this, ErrorCode::bad_proxy_header, "expected a PROXY protocol v1 or v2 header");
    return false;
  }
  if (header.local) {
    close_health_check();
    return false;
  }
  if (!take_proxy_header(header)) return false;
  data.remove_prefix(header.length - had);
  std::string().swap(proxy_buffer_);
  return true;
}

// The header names the client (UNKNOWN names none: the balancer stays the
// peer): it is logged and counted per IP under that name from now on.
// False when the per-IP limit refused it.
bool LineSession::take_proxy_header(const ProxyHeader& header) {
  const std::string balancer = peer();
  if (!header.source.empty()) rename_peer(header.source);
  log::write(LogLevel::info, connection_number(id()), peer(), "connected through proxy " + balancer);
  if (!hub().peer_known(*this, counted_ip())) return false;
  awaiting_proxy_header_ = false;
  return true;
}

// PROXY v2 LOCAL: the balancer checking that we are up, with no client
// behind it. Closed without an `error` event and logged at debug alone (a
// check every few seconds would bury the log); the per-IP limit never sees
// it, since no client was named.
void LineSession::close_health_check() {
  log::write(LogLevel::debug, connection_number(id()), peer(), "PROXY LOCAL: a health check from the balancer");
  hub().close(*this, CloseReason::proxy_local);
}

bool LineSession::on_line(std::string_view line) {
  if (!open()) return false;
  last_input_ms_ = stream_.now_ms();
  pings_sent_ = 0;
  return hub().on_line(*this, line);
}

void LineSession::after_framing(LineFramer::Status status) {
  if (!open()) return;
  switch (status) {
    case LineFramer::Status::line_too_long:
      hub().fatal(*this, ErrorCode::line_too_long, "line longer than " + std::to_string(options().max_line) + " bytes");
      return;
    case LineFramer::Status::paused:
      pause_reading();
      return;
    case LineFramer::Status::drained:
      if (eof_) hub().close(*this, CloseReason::eof);
      return;
  }
}

// Half-close: answer every complete request already sent, then close.
void LineSession::on_stream_eof() {
  eof_ = true;
  stream_.stop_reading();
  if (open() && !input_paused_) hub().close(*this, CloseReason::eof);
}

void LineSession::on_stream_error(CloseReason reason) { fail(reason); }

void LineSession::pause_reading() {
  input_paused_ = true;
  stream_.stop_reading();
}

void LineSession::resume_input() {
  if (!input_paused_ || !open()) return;
  input_paused_ = false;
  after_framing(framer_.resume([this](std::string_view line) { return on_line(line); }));
  read_again();
}

void LineSession::read_again() {
  if (open() && !input_paused_ && !eof_ && !stream_.reading() && !stream_.start_reading())
    fail(CloseReason::read_error);
}

// ---- output ---------------------------------------------------------------

void LineSession::enqueue(const Bytes& bytes, OutputKind kind) {
  if (stream_.closed()) return;  // nothing more can be written
  stream_.outbox().push(bytes, kind);
}

void LineSession::flush() {
  if (stream_.closed()) return;
  if (!stream_.write_queued()) return fail(CloseReason::write_error);
  maybe_finish_close();
}

void LineSession::on_stream_written() {
  if (!stream_.outbox().empty() || flushing_to_close_ || input_paused_) hub().mark_dirty(*this);
}

// ---- closing --------------------------------------------------------------

// The socket failed: a close to decide, or one already decided to finish now.
void LineSession::fail(CloseReason reason) {
  if (open())
    hub().close(*this, reason);
  else
    stream_.close();
}

void LineSession::close_transport(CloseReason reason, const Bytes& farewell) {
  stream_.stop_reading();
  framer_.release_memory();
  if (flushes_first(reason)) {
    queue_goodbye(reason);
    flushing_to_close_ = true;
    // A client that never reads cannot hold the socket open forever.
    stream_.start_timer(options().drain_timeout_ms);
    return;
  }
  abort(farewell);
}

// Without a farewell (a second signal while draining), now. With one
// (slow_consumer), the queue is cut to what is already under way, which
// still goes out with the farewell after it: a client must not see a line
// or a WebSocket frame cut short, nor miss why it was dropped. That costs
// the rest of one line or frame at most, and --drain-timeout bounds the time.
void LineSession::abort(const Bytes& farewell) {
  const Bytes last = farewell ? wire_farewell(farewell) : farewell;
  if (!last || stream_.closed()) return stream_.close();
  stream_.stop_reading();
  stream_.cut_to(last);
  if (!flushing_to_close_) stream_.start_timer(options().drain_timeout_ms);
  flushing_to_close_ = true;
  hub().mark_dirty(*this);
}

// Everything owed is written: close. close() sends the FIN after whatever
// the kernel still holds, so a shutdown() first would only cost a system
// call and a loop turn per connection.
void LineSession::maybe_finish_close() {
  if (!flushing_to_close_ || !stream_.outbox().empty() || stream_.write_in_flight()) return;
  flushing_to_close_ = false;
  finish_close();
}

void LineSession::on_stream_closed() {
  hub().release(*this);  // destroys this: nothing may follow
}

// ---- idle and ping --------------------------------------------------------

void LineSession::arm_idle_timer() {
  const std::uint64_t deadline =
      awaiting_proxy_header_
          ? last_input_ms_ + std::min(options().proxy_header_timeout_ms, options().idle_timeout_ms)
          : last_input_ms_ + std::min<std::uint64_t>(options().ping_interval_ms * (pings_sent_ + 1ull),
                                                     options().idle_timeout_ms);
  const std::uint64_t now = stream_.now_ms();
  stream_.start_timer(deadline > now ? deadline - now : 0);
}

void LineSession::on_stream_timer() {
  if (open())
    on_idle_timer();
  else
    stream_.close();  // a closing client ran out of time to read what it was owed
}

// Lines move last_input_ms_ forward without touching the timer; the timer
// finds out when it fires and re-arms for the real deadline.
void LineSession::on_idle_timer() {
  const std::uint64_t silent = stream_.now_ms() - last_input_ms_;
  if (awaiting_proxy_header_) {  // no line, no ping before the header: only its deadline
    if (silent >= std::min(options().proxy_header_timeout_ms, options().idle_timeout_ms))
      return hub().fatal(*this, ErrorCode::bad_proxy_header,
                         "no PROXY header within " + std::to_string(options().proxy_header_timeout_ms / 1000) + " s");
    return arm_idle_timer();
  }
  if (silent >= options().idle_timeout_ms) {
    hub().fatal(*this, ErrorCode::idle_timeout, "no request for " + std::to_string(options().idle_timeout_ms / 1000) + " s");
    return;
  }
  if (silent >= options().ping_interval_ms * (pings_sent_ + 1ull)) {
    ++pings_sent_;
    hub().send(*this, encode_ping(), OutputKind::reply);
  }
  arm_idle_timer();
}

}  // namespace parley
