#include "parley/transport/line/connection.hpp"

#include <algorithm>
#include <climits>

#include <unistd.h>

#include "parley/socket/address.hpp"
#include "parley/net/connection_table.hpp"
#include "parley/log/log.hpp"
#include "parley/protocol/proxy_header.hpp"
#include "parley/net/server.hpp"

namespace parley {
namespace {

// Buffers handed to one vectored write (Linux's IOV_MAX).
constexpr std::size_t max_iov = 1024;
// Vectored writes one connection may make per flush before yielding.
constexpr int max_writes_per_flush = 16;

Connection& owner(void* data) { return *static_cast<Connection*>(data); }

}  // namespace

Connection::Connection(Server& server, ConnId id, Transport transport)
    : server_(server), id_(id), transport_(transport),
      framer_(server.config().limits.max_line) {
  if (transport == Transport::tcp)
    uv_tcp_init(server.loop(), &handle_.tcp);
  else
    uv_pipe_init(server.loop(), &handle_.pipe, 0);
  uv_timer_init(server.loop(), &timer_);
  handle_.tcp.data = this;  // `data` sits at the same place in every handle
  timer_.data = this;
  write_req_.data = this;
  open_handles_ = 2;
  last_input_ms_ = server.now_ms();
}

bool Connection::adopt(int fd) {
  const int rc = transport_ == Transport::tcp ? uv_tcp_open(&handle_.tcp, fd)
                                              : uv_pipe_open(&handle_.pipe, fd);
  if (rc != 0) ::close(fd);
  return rc == 0;
}

void Connection::start(bool expect_proxy_header, std::string peer) {
  if (transport_ == Transport::tcp) uv_tcp_nodelay(&handle_.tcp, 1);
  peer_ = std::move(peer);
  awaiting_proxy_header_ = expect_proxy_header && transport_ == Transport::tcp;
  reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  arm_idle_timer();
  if (transport_ == Transport::tcp && !awaiting_proxy_header_) server_.peer_known(*this);
}

std::string Connection::peer_ip() const {
  if (transport_ != Transport::tcp) return {};
  const auto colon = peer_.rfind(':');
  if (colon == std::string::npos) return peer_;
  std::string_view host(peer_.data(), colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// ---- input ----------------------------------------------------------------

void Connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  *buf = owner(handle->data).server_.read_buffer();
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Connection& self = owner(stream->data);
  if (nread > 0)
    self.consume(std::string_view(buf->base, static_cast<std::size_t>(nread)));
  else if (nread == UV_EOF)
    self.on_eof();
  else if (nread < 0)
    self.close_now("connection closed");
}

void Connection::consume(std::string_view data) {
  if (state_ != State::open) return;
  if (awaiting_proxy_header_ && !read_proxy_header(data)) return;
  after_framing(framer_.feed(data, [this](std::string_view line) { return on_line(line); }));
}

// Strips the PROXY header off the first bytes; false while it is incomplete
// or when it was bad (then the connection is closing).
bool Connection::read_proxy_header(std::string_view& data) {
  const std::size_t had = proxy_buffer_.size();
  proxy_buffer_.append(data.substr(0, max_proxy_header - std::min(had, max_proxy_header)));
  const ProxyHeader header = parse_proxy_header(proxy_buffer_);
  if (header.status == ProxyHeader::Status::incomplete &&
      proxy_buffer_.size() < max_proxy_header)
    return false;
  if (header.status != ProxyHeader::Status::complete) {
    fatal(ErrorCode::bad_proxy_header, "expected a PROXY protocol v1 or v2 header");
    return false;
  }
  const std::string balancer = peer_;
  if (!header.source.empty()) peer_ = header.source;
  log::write(LogLevel::info, connection_number(id_), peer_, "connected through proxy " + balancer);
  server_.peer_known(*this);
  if (state_ != State::open) return false;
  awaiting_proxy_header_ = false;
  data.remove_prefix(header.length - had);
  std::string().swap(proxy_buffer_);
  return true;
}

bool Connection::on_line(std::string_view line) {
  if (state_ != State::open) return false;
  last_input_ms_ = server_.now_ms();
  pings_sent_ = 0;
  server_.handle_line(*this, line);
  return state_ == State::open && !input_backed_up();
}

// Our own replies are bounded by not reading more requests while the client
// is behind on reading what we already owe it.
bool Connection::input_backed_up() const {
  return outbox_.bytes() > server_.config().max_pending / 4;
}

void Connection::after_framing(LineFramer::Status status) {
  if (state_ != State::open) return;
  switch (status) {
    case LineFramer::Status::line_too_long:
      fatal(ErrorCode::line_too_long,
            "line longer than " + std::to_string(server_.config().limits.max_line) + " bytes");
      return;
    case LineFramer::Status::paused:
      pause_reading();
      return;
    case LineFramer::Status::drained:
      if (eof_) close_after_flush("connection closed");
      return;
  }
}

// Half-close: answer every complete request already sent, then close.
void Connection::on_eof() {
  eof_ = true;
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  if (state_ == State::open && !input_paused_) close_after_flush("connection closed");
}

void Connection::pause_reading() {
  input_paused_ = true;
  if (reading_) uv_read_stop(stream());
  reading_ = false;
}

void Connection::maybe_resume_reading() {
  if (!input_paused_ || state_ != State::open || input_backed_up()) return;
  input_paused_ = false;
  after_framing(framer_.resume([this](std::string_view line) { return on_line(line); }));
  if (state_ == State::open && !input_paused_ && !eof_ && !reading_)
    reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
}

// ---- output ---------------------------------------------------------------

void Connection::send(const Bytes& line, Outbox::Kind kind) {
  server_.before_send(*this);
  enqueue(line, kind);
}

void Connection::enqueue(const Bytes& line, Outbox::Kind kind) {
  if (state_ == State::closed) return;  // nothing more can be written
  outbox_.push(line, kind);
  server_.mark_dirty(*this, kind == Outbox::Kind::reply);
  if (kind == Outbox::Kind::event && outbox_.event_bytes() > server_.config().max_pending) {
    log::write(LogLevel::warn, connection_number(id_), peer_,
               "slow consumer: " + std::to_string(outbox_.bytes()) + " bytes unsent");
    // Tell the client why if the error can still follow whole lines.
    if (in_flight_ == 0) {
      outbox_.drop_unstarted();
      outbox_.push(encode_fatal(ErrorCode::slow_consumer, "output not read fast enough"),
                   Outbox::Kind::reply);
      uv_buf_t bufs[2];
      const std::size_t n = outbox_.gather(bufs, 2);
      uv_try_write(stream(), bufs, static_cast<unsigned>(n));
    }
    close_now("slow_consumer");
  }
}

void Connection::flush() {
  if (state_ == State::closed) return;
  write_queued();
  maybe_resume_reading();
  maybe_finish_close();
}

// Tries the write right away; what the kernel does not take goes to one
// uv_write whose callback releases it.
void Connection::write_queued() {
  if (in_flight_ > 0 || outbox_.empty()) return;
  uv_buf_t bufs[max_iov];
  for (int round = 0; round < max_writes_per_flush && !outbox_.empty(); ++round) {
    const std::size_t count = outbox_.gather(bufs, max_iov);
    const int written = uv_try_write(stream(), bufs, static_cast<unsigned>(count));
    if (written == UV_EAGAIN || written == UV_ENOSYS) break;
    if (written < 0) {
      close_now("connection closed");
      return;
    }
    outbox_.consume(static_cast<std::size_t>(written));
    std::size_t offered = 0;
    for (std::size_t i = 0; i < count; ++i) offered += bufs[i].len;
    if (static_cast<std::size_t>(written) < offered) break;
  }
  if (outbox_.empty()) return;
  const std::size_t count = outbox_.gather(bufs, max_iov);
  for (std::size_t i = 0; i < count; ++i) in_flight_ += bufs[i].len;
  if (uv_write(&write_req_, stream(), bufs, static_cast<unsigned>(count), on_write) != 0) {
    in_flight_ = 0;
    close_now("connection closed");
  }
}

void Connection::on_write(uv_write_t* req, int status) {
  Connection& self = owner(req->data);
  const std::size_t written = self.in_flight_;
  self.in_flight_ = 0;
  if (status < 0) {
    // UV_ECANCELED: the handle is closing and the bytes no longer matter.
    if (status != UV_ECANCELED) self.close_now("connection closed");
    return;
  }
  self.outbox_.consume(written);
  if (!self.outbox_.empty() || self.state_ == State::closing || self.input_paused_)
    self.server_.mark_dirty(self);
}

// ---- closing --------------------------------------------------------------

void Connection::fatal(ErrorCode code, std::string_view message) {
  if (state_ != State::open) return;
  log::write(LogLevel::info, connection_number(id_), peer_, std::string("fatal ") + std::string(to_string(code)) +
                                             ": " + std::string(message));
  send(encode_fatal(code, message), Outbox::Kind::reply);
  close_after_flush(std::string(to_string(code)));
}

void Connection::close_after_flush(std::string reason) {
  if (state_ != State::open) return;
  state_ = State::closing;
  close_reason_ = std::move(reason);
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  framer_.release_memory();
  server_.connection_closing(*this, close_reason_);
  server_.mark_dirty(*this);
  // A client that never reads cannot hold the socket open forever.
  uv_timer_start(&timer_, on_timer, server_.config().drain_timeout_s * 1000ull, 0);
}

void Connection::close_now(std::string reason) {
  if (state_ == State::closed) return;
  if (state_ == State::open) server_.connection_closing(*this, reason);
  state_ = State::closed;
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  release_handles();
}

// Everything owed is written: close. close() sends the FIN after whatever
// the kernel still holds, so a shutdown() first would only cost a system
// call and a loop turn per connection.
void Connection::maybe_finish_close() {
  if (state_ != State::closing || !outbox_.empty() || in_flight_ > 0) return;
  close_now(close_reason_);
}

void Connection::release_handles() {
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void Connection::on_close(uv_handle_t* handle) {
  Connection& self = owner(handle->data);
  if (--self.open_handles_ == 0) self.server_.release(self);
}

// ---- idle and ping --------------------------------------------------------

void Connection::arm_idle_timer() {
  const std::uint64_t ping_ms = server_.config().ping_interval_s * 1000ull;
  const std::uint64_t idle_ms = server_.config().idle_timeout_s * 1000ull;
  const std::uint64_t deadline =
      last_input_ms_ + std::min<std::uint64_t>(ping_ms * (pings_sent_ + 1ull), idle_ms);
  const std::uint64_t now = server_.now_ms();
  uv_timer_start(&timer_, on_timer, deadline > now ? deadline - now : 0, 0);
}

void Connection::on_timer(uv_timer_t* timer) {
  Connection& self = owner(timer->data);
  if (self.state_ == State::open)
    self.on_idle_timer();
  else
    self.close_now(self.close_reason_);  // a closing connection ran out of time to flush
}

// Lines move last_input_ms_ forward without touching the timer; the timer
// finds out when it fires and re-arms for the real deadline.
void Connection::on_idle_timer() {
  const std::uint64_t silent = server_.now_ms() - last_input_ms_;
  const std::uint64_t idle_ms = server_.config().idle_timeout_s * 1000ull;
  const std::uint64_t ping_ms = server_.config().ping_interval_s * 1000ull;
  if (silent >= idle_ms) {
    fatal(ErrorCode::idle_timeout,
          "no request for " + std::to_string(server_.config().idle_timeout_s) + " s");
    return;
  }
  if (silent >= ping_ms * (pings_sent_ + 1ull)) {
    ++pings_sent_;
    send(encode_ping(), Outbox::Kind::reply);
  }
  arm_idle_timer();
}

}  // namespace parley
