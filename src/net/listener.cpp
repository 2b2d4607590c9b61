#include "parley/net/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"
#include "parley/log/log.hpp"

namespace parley {
namespace {

constexpr int backlog = 511;
// Connections accepted per wakeup, so one busy listener cannot starve the loop.
constexpr int max_accepts_per_wakeup = 64;
// What a drain accepts from the backlog at most: systemd's default Backlog=
// (SOMAXCONN, 4096) for sockets it passes, more than our own 511.
constexpr int max_backlog_accepts = 4096;

// A Unix socket file left behind by a server that died can be replaced; one a
// live server still accepts on cannot.
bool unix_socket_is_live(const Address& address) {
  std::string ignored;
  const int fd = connect_to(address, ignored);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// A bound Unix socket's path as getsockname() gives it: "@NAME" for the
// abstract namespace (a leading NUL), "" for an unnamed socket.
std::string unix_socket_path(const sockaddr_un& addr, socklen_t length) {
  const std::size_t offset = offsetof(sockaddr_un, sun_path);
  if (length <= offset) return {};
  const std::size_t size = std::min<std::size_t>(length - offset, sizeof addr.sun_path);
  if (addr.sun_path[0] == '\0') return "@" + std::string(addr.sun_path + 1, size - 1);
  return std::string(addr.sun_path, strnlen(addr.sun_path, size));
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
  remove_path_ = true;
  if (::listen(fd_, backlog) != 0) {
    error = socket_error_text(errno);
    return false;
  }
  return start_polling(error);
}

bool Listener::adopt(int fd, bool proxy, std::string& error) {
  fd_ = fd;
  int type = 0;
  int accepting = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    error = errno == ENOTSOCK ? "not a socket" : std::strerror(errno);
    return false;
  }
  length = sizeof accepting;
  if (type != SOCK_STREAM || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || !accepting) {
    // A connected socket here is what a socket unit with Accept=yes passes.
    error = type == SOCK_STREAM ? "a stream socket that is not listening (a connection? the socket unit needs Accept=no)"
                                : "not a stream socket (ListenStream= makes one)";
    return false;
  }
  sockaddr_storage addr{};
  length = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    error = std::strerror(errno);
    return false;
  }
  if (addr.ss_family == AF_UNIX) {
    transport_ = TransportKind::unix_socket;
    unix_path_ = unix_socket_path(reinterpret_cast<const sockaddr_un&>(addr), length);
  } else if (addr.ss_family == AF_INET || addr.ss_family == AF_INET6) {
    transport_ = TransportKind::tcp;
  } else {
    error = "neither a TCP nor a Unix socket (address family " + std::to_string(addr.ss_family) + ")";
    return false;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    error = std::strerror(errno);
    return false;
  }
  std::string unused;
  if (auto address = parse_address(bound_address(), unused)) spec_.address = *address;
  spec_.proxy = proxy && transport_ == TransportKind::tcp;  // as --proxy-protocol: TCP listeners only
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
  if (remove_path_) ::unlink(unix_path_.c_str());
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

void Listener::accept_backlog() {
  for (int round = 0; round < max_backlog_accepts / max_accepts_per_wakeup && !closed_; ++round)
    if (!accept_pending()) return;
}

bool Listener::accept_pending() {
  if (fd_ < 0) return false;
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
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    if (polling_) pause_accepting(errno);  // EMFILE, ENFILE, ENOBUFS, ENOMEM: wait, do not spin
    return false;
  }
  return true;
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
