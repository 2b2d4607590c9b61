// A connected stream socket on the loop (TCP or a Unix socket): the handle,
// one timer, the outbox and its one write in flight, and the two-step close.
// What the bytes mean is its owner's business (transport/line today,
// transport/ws next); the stream reports to it through Stream::Owner.
//
// Lifetime: the owner holds the stream. close() starts closing both libuv
// handles; Owner::on_stream_closed() runs from the last close callback, and
// only then may the owner (and the stream with it) be freed.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parley/hub/session.hpp"
#include "parley/net/outbox.hpp"
#include "parley/net/read_buffer.hpp"

namespace parley {

class Stream {
 public:
  class Owner {
   public:
    // Bytes read, borrowed for the length of the call.
    virtual void on_stream_data(std::string_view data) = 0;
    virtual void on_stream_eof() = 0;
    // Reading or writing failed (read_error, write_error); the stream is
    // still open: the owner decides the close.
    virtual void on_stream_error(CloseReason reason) = 0;
    virtual void on_stream_timer() = 0;
    // An asynchronous write completed; more may be waiting.
    virtual void on_stream_written() = 0;
    // Both handles are closed: the owner may free itself now.
    virtual void on_stream_closed() = 0;
    // Where reads land: the loop's one buffer, lent for one read callback.
    virtual ReadBuffer& read_buffer() = 0;

   protected:
    ~Owner() = default;
  };

  // Initialises the handles; check ok() before use (then close() anyway).
  Stream(uv_loop_t* loop, TransportKind kind, Owner& owner);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool ok() const { return init_error_ == 0; }
  // Wraps an accepted descriptor; false (and the descriptor closed) if
  // libuv refuses it.
  bool adopt(int fd);

  bool start_reading();  // false: the socket cannot be read (the owner closes it)
  void stop_reading();
  bool reading() const { return reading_; }

  Outbox& outbox() { return outbox_; }
  const Outbox& outbox() const { return outbox_; }
  bool write_in_flight() const { return in_flight_ > 0; }
  // Writes what is queued: a few vectored uv_try_writes, then one uv_write
  // for what the kernel did not take. False when the socket failed.
  bool write_queued();
  // The last words to a client being cut off: drops what is queued but the
  // rest of a line already partly written, and makes one non-blocking
  // attempt at that rest and `farewell`. Only when no write is in flight
  // (its bytes would come first); the stream is closed next either way.
  void write_farewell(const Bytes& farewell);
  // Cuts the queue down to what a write has started (the one in flight
  // included) and the rest of the line or frame that ends it, then queues
  // `last`: flushed as usual, it follows whole lines (frames) on the wire.
  void cut_to(const Bytes& last) {
    outbox_.drop_unstarted(in_flight_);
    outbox_.push(last, OutputKind::reply);
  }

  // The one timer (re)armed; `ms` from now.
  void start_timer(std::uint64_t ms);
  std::uint64_t now_ms() const { return uv_now(timer_.loop); }

  // Starts closing both handles; what is queued is dropped (UV_ECANCELED).
  void close();
  bool closed() const { return closed_; }

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_close(uv_handle_t* handle);
  uv_stream_t* handle() { return reinterpret_cast<uv_stream_t*>(&handle_); }

  // No loop pointer or read buffer of its own: the handles know their loop
  // and the owner lends the buffer, which keeps an idle connection small.
  Owner& owner_;
  TransportKind kind_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  Outbox outbox_;
  std::size_t in_flight_ = 0;  // bytes handed to write_req_
  int open_handles_ = 0;
  int init_error_ = 0;
  bool reading_ = false;
  bool closed_ = false;
};

}  // namespace parley
