#include "parley/net/listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"
#include "parley/log/log.hpp"

namespace parley {
namespace {

constexpr int backlog = 511;
// Connections accepted per wakeup, so one busy listener cannot starve the loop.
constexpr int max_accepts_per_wakeup = 64;

// A Unix socket file left behind by a server that died can be replaced; one a
// live server still accepts on cannot.
bool unix_socket_is_live(const Address& address) {
  std::string ignored;
  const int fd = connect_to(address, ignored);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

}  // namespace

Listener::~Listener() {
  if (fd_ >= 0 && !polling_) ::close(fd_);
}

bool Listener::open(const ListenSpec& spec, std::string& error) {
  spec_ = spec;
  const Address& address = spec_.address;
  return address.kind == Address::Kind::unix_socket ? open_unix(address, error)
                                                    : open_tcp(address, error);
}

bool Listener::open_tcp(const Address& address, std::string& error) {
  transport_ = TransportKind::tcp;
  fd_ = bind_to(address, SOCK_NONBLOCK, error);
  if (fd_ < 0) return false;
  if (::listen(fd_, backlog) != 0) {
    error = socket_error_text(errno);
    return false;
  }
  return start_polling(error);
}

bool Listener::open_unix(const Address& address, std::string& error) {
  struct stat st {};
  if (::lstat(address.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "the path exists and is not a socket";
      return false;
    }
    if (unix_socket_is_live(address)) {
      error = "address already in use (a server is listening there)";
      return false;
    }
    ::unlink(address.path.c_str());
  }
  transport_ = TransportKind::unix_socket;
  fd_ = bind_to(address, SOCK_NONBLOCK, error);
  if (fd_ < 0) return false;
  unix_path_ = address.path;
  if (::listen(fd_, backlog) != 0) {
    error = socket_error_text(errno);
    return false;
  }
  return start_polling(error);
}

bool Listener::start_polling(std::string& error) {
  uv_timer_init(loop_, &resume_timer_);
  resume_timer_.data = this;
  if (const int rc = uv_poll_init(loop_, &poll_, fd_); rc != 0) {
    error = uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(&resume_timer_), nullptr);
    return false;
  }
  poll_.data = this;
  polling_ = true;
  if (const int rc = uv_poll_start(&poll_, UV_READABLE, on_readable); rc != 0) {
    error = uv_strerror(rc);
    return false;
  }
  return true;
}

std::string Listener::bound_address() const {
  if (transport_ == TransportKind::unix_socket) return "unix:" + unix_path_;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  return format_socket_address(addr);
}

void Listener::close() {
  if (closed_) return;
  closed_ = true;
  if (polling_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&resume_timer_), nullptr);
    polling_ = false;
  }
  if (fd_ >= 0) ::close(fd_);  // the poll handle is stopped: safe to close
  fd_ = -1;
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

void Listener::on_readable(uv_poll_t* handle, int status, int) {
  Listener& self = *static_cast<Listener*>(handle->data);
  if (status < 0) {
    // libuv has stopped the poll: try again after the pause rather than
    // stop accepting for good.
    log::warn(std::string("listener poll failed: ") + uv_strerror(status));
    self.pause_accepting(0);
    return;
  }
  self.accept_pending();
}

void Listener::accept_pending() {
  for (int i = 0; i < max_accepts_per_wakeup && !closed_; ++i) {
    // The peer's address comes with the accept: no getpeername() per client.
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_(fd, transport_, transport_ == TransportKind::tcp ? format_socket_address(peer) : "unix", spec_);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    pause_accepting(errno);  // EMFILE, ENFILE, ENOBUFS, ENOMEM: wait, do not spin
    return;
  }
}

void Listener::pause_accepting(int error) {
  const std::uint64_t now = uv_now(loop_);
  if (error != 0 && (last_error_log_ms_ == 0 || now - last_error_log_ms_ >= 1000)) {
    last_error_log_ms_ = now;
    log::warn(std::string("accept failed: ") + std::strerror(error) + "; pausing accepts for " +
              std::to_string(accept_pause_ms) + " ms");
  }
  uv_poll_stop(&poll_);
  (void)uv_timer_start(&resume_timer_, on_resume, accept_pause_ms, 0);  // a live timer: cannot fail
}

void Listener::on_resume(uv_timer_t* timer) {
  Listener& self = *static_cast<Listener*>(timer->data);
  if (!self.closed_) self.resume_polling();
}

// Accepting again; if even that fails, the resume timer tries once more
// after the pause, for as long as it takes.
void Listener::resume_polling() {
  const int rc = uv_poll_start(&poll_, UV_READABLE, on_readable);
  if (rc == 0) return;
  log::warn(std::string("listener cannot poll: ") + uv_strerror(rc) + "; retrying in " +
            std::to_string(accept_pause_ms) + " ms");
  (void)uv_timer_start(&resume_timer_, on_resume, accept_pause_ms, 0);  // a live timer: cannot fail
}

}  // namespace parley
