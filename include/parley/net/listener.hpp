// A listening socket: TCP (IPv4 or IPv6) or a Unix socket path.
//
// It accepts by itself (a uv_poll_t on the listening descriptor, accept4 in
// the callback) rather than through uv_listen, so that running out of
// descriptors can pause accepting: on EMFILE/ENFILE it stops polling for
// `accept_pause_ms` and tries again, while new clients wait in the kernel's
// backlog instead of being dropped or making the loop spin.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "parley/hub/session.hpp"
#include "parley/socket/address.hpp"
#include "parley/socket/listen_spec.hpp"

namespace parley {

class Listener {
 public:
  // Takes an accepted, non-blocking descriptor, the peer's address as the
  // logs show it ("unix" for Unix sockets), and what the listener was opened
  // with (its options, such as `proxy`, apply to this connection).
  using AcceptFn = std::function<void(int fd, TransportKind transport, std::string peer, const ListenSpec& listener)>;

  Listener(uv_loop_t* loop, AcceptFn accept) : loop_(loop), accept_(std::move(accept)) {}
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Binds and listens on `spec.address`; every accepted connection is handed
  // on with `spec`. On failure returns false with `error` set.
  bool open(const ListenSpec& spec, std::string& error);

  // Takes over a socket that is already listening, such as one systemd
  // passed (net/listen_fds.hpp): a stream socket in the listening state
  // (SO_ACCEPTCONN), TCP over IPv4 or IPv6, or Unix. Makes it non-blocking.
  // Connections are handed on with a spec of the bound address and, on TCP,
  // `proxy`. The descriptor is the listener's from this call on, also when
  // it fails (false with `error` set). A Unix socket's file is left in place
  // at close: whoever made it (the socket unit) owns it.
  bool adopt(int fd, bool proxy, std::string& error);

  // The address actually bound (port 0 resolved), as a user would write it.
  std::string bound_address() const;
  // What connections are handed on with: the address and options it was
  // opened with, or those adopt() found.
  const ListenSpec& spec() const { return spec_; }

  // Accepts every connection already waiting in the kernel's backlog (a
  // drain does this before close(), so that a client whose connect
  // completed is told `shutdown` rather than reset). Bounded by the backlog.
  void accept_backlog();

  // Stops accepting; removes the Unix socket file. The object must outlive the
  // close callback, so it is freed only when the loop has finished.
  void close();

 private:
  static constexpr unsigned accept_pause_ms = 100;
  static void on_readable(uv_poll_t* handle, int status, int events);
  static void on_resume(uv_timer_t* timer);
  bool accept_pending();  // false once the backlog is empty (or accepting failed)
  void pause_accepting(int error);  // errno of the failed accept; 0: already logged
  void resume_polling();
  bool open_tcp(const Address& address, std::string& error);
  bool open_unix(const Address& address, std::string& error);
  bool start_polling(std::string& error);

  uv_loop_t* loop_;
  AcceptFn accept_;
  ListenSpec spec_;
  TransportKind transport_ = TransportKind::tcp;
  int fd_ = -1;
  uv_poll_t poll_;
  uv_timer_t resume_timer_;
  std::string unix_path_;
  bool remove_path_ = false;  // the path is ours (open_unix made it)
  bool polling_ = false;
  bool closed_ = false;
  std::uint64_t last_error_log_ms_ = 0;
};

}  // namespace parley
