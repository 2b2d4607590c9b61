#include "parley/net/stream.hpp"

#include <unistd.h>

#include <cassert>

namespace parley {
namespace {

// Buffers handed to one vectored write (Linux's IOV_MAX).
constexpr std::size_t max_iov = 1024;
// Vectored writes one stream may make per flush before yielding the loop.
constexpr int max_writes_per_flush = 16;

Stream& owner_of(void* data) { return *static_cast<Stream*>(data); }

// libuv takes char*, but never writes through it.
std::size_t to_uv(const Slice* slices, std::size_t count, uv_buf_t* bufs) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    bufs[i] = uv_buf_init(const_cast<char*>(slices[i].data), static_cast<unsigned>(slices[i].size));
    total += slices[i].size;
  }
  return total;
}

}  // namespace

Stream::Stream(uv_loop_t* loop, TransportKind kind, Owner& owner) : owner_(owner), kind_(kind) {
  init_error_ = kind == TransportKind::tcp ? uv_tcp_init(loop, &handle_.tcp) : uv_pipe_init(loop, &handle_.pipe, 0);
  const int timer_rc = uv_timer_init(loop, &timer_);  // never fails: it allocates nothing
  assert(timer_rc == 0);
  (void)timer_rc;
  open_handles_ = init_error_ == 0 ? 2 : 1;
  handle_.tcp.data = this;  // `data` sits at the same place in every handle
  timer_.data = this;
  write_req_.data = this;
}

bool Stream::adopt(int fd) {
  const int rc = !ok() ? init_error_
                 : kind_ == TransportKind::tcp ? uv_tcp_open(&handle_.tcp, fd)
                                               : uv_pipe_open(&handle_.pipe, fd);
  if (rc != 0) {
    ::close(fd);
    return false;
  }
  // Small replies must not wait for Nagle; a failure here (the peer already
  // gone) shows up on the first read or write instead.
  if (kind_ == TransportKind::tcp) (void)uv_tcp_nodelay(&handle_.tcp, 1);
  return true;
}

// ---- input --------------------------------------------------------------------

bool Stream::start_reading() {
  if (reading_ || closed_) return reading_;
  reading_ = uv_read_start(handle(), on_alloc, on_read) == 0;
  return reading_;
}

void Stream::stop_reading() {
  if (reading_) uv_read_stop(handle());  // cannot fail on a stream
  reading_ = false;
}

void Stream::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  *buf = owner_of(handle->data).owner_.read_buffer().get();
}

void Stream::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Stream& self = owner_of(stream->data);
  if (nread > 0)
    self.owner_.on_stream_data(std::string_view(buf->base, static_cast<std::size_t>(nread)));
  else if (nread == UV_EOF)
    self.owner_.on_stream_eof();
  else if (nread < 0)
    self.owner_.on_stream_error(CloseReason::read_error);
}

// ---- output -------------------------------------------------------------------

bool Stream::write_queued() {
  if (closed_ || in_flight_ > 0 || outbox_.empty()) return true;
  Slice slices[max_iov];
  uv_buf_t bufs[max_iov];
  for (int round = 0; round < max_writes_per_flush && !outbox_.empty(); ++round) {
    const std::size_t count = outbox_.gather(slices, max_iov);
    const std::size_t offered = to_uv(slices, count, bufs);
    const int written = uv_try_write(handle(), bufs, static_cast<unsigned>(count));
    if (written == UV_EAGAIN || written == UV_ENOSYS) break;
    if (written < 0) return false;
    outbox_.consume(static_cast<std::size_t>(written));
    if (static_cast<std::size_t>(written) < offered) break;
  }
  if (outbox_.empty()) return true;
  const std::size_t count = outbox_.gather(slices, max_iov);
  const std::size_t offered = to_uv(slices, count, bufs);
  if (uv_write(&write_req_, handle(), bufs, static_cast<unsigned>(count), on_write) != 0) return false;
  in_flight_ = offered;
  return true;
}

void Stream::write_farewell(const Bytes& farewell) {
  if (closed_ || in_flight_ > 0 || !farewell) return;
  outbox_.drop_unstarted();
  outbox_.push(farewell, OutputKind::reply);
  Slice slices[2];
  uv_buf_t bufs[2];
  const std::size_t count = outbox_.gather(slices, 2);
  to_uv(slices, count, bufs);
  (void)uv_try_write(handle(), bufs, static_cast<unsigned>(count));  // best effort: it closes next
}

void Stream::on_write(uv_write_t* req, int status) {
  Stream& self = owner_of(req->data);
  const std::size_t written = self.in_flight_;
  self.in_flight_ = 0;
  if (status < 0) {
    // UV_ECANCELED: the handle is closing and the bytes no longer matter.
    if (status != UV_ECANCELED && !self.closed_) self.owner_.on_stream_error(CloseReason::write_error);
    return;
  }
  self.outbox_.consume(written);
  self.owner_.on_stream_written();
}

// ---- time and closing ---------------------------------------------------------

void Stream::start_timer(std::uint64_t ms) {
  if (!closed_) (void)uv_timer_start(&timer_, on_timer, ms, 0);  // fails only on a closing handle
}

void Stream::on_timer(uv_timer_t* timer) { owner_of(timer->data).owner_.on_stream_timer(); }

void Stream::close() {
  if (closed_) return;
  closed_ = true;
  stop_reading();
  if (init_error_ == 0) uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void Stream::on_close(uv_handle_t* handle) {
  Stream& self = owner_of(handle->data);
  if (--self.open_handles_ == 0) self.owner_.on_stream_closed();
}

}  // namespace parley
