#include "parley/listener.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "parley/log.hpp"
#include "parley/server.hpp"

namespace parley {
namespace {

constexpr int backlog = 511;

// A Unix socket file left behind by a server that died can be replaced; one a
// live server still accepts on cannot.
bool unix_socket_is_live(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

std::string describe(int uv_error) {
  if (uv_error == UV_EADDRINUSE) return "address already in use";
  return uv_strerror(uv_error);
}

}  // namespace

Listener::~Listener() = default;

bool Listener::open(const Address& address, std::string& error) {
  return address.kind == Address::Kind::unix_socket ? open_unix(address, error)
                                                    : open_tcp(address, error);
}

bool Listener::open_tcp(const Address& address, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = std::string("cannot resolve host: ") + gai_strerror(rc);
    return false;
  }
  transport_ = Connection::Transport::tcp;
  uv_tcp_init(server_.loop(), &handle_.tcp);
  handle_.tcp.data = this;
  opened_ = true;
  int rc = uv_tcp_bind(&handle_.tcp, found->ai_addr, 0);
  freeaddrinfo(found);
  if (rc == 0) rc = uv_listen(stream(), backlog, on_connection);
  if (rc != 0) {
    error = describe(rc);
    return false;
  }
  return true;
}

bool Listener::open_unix(const Address& address, std::string& error) {
  struct stat st {};
  if (::lstat(address.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "the path exists and is not a socket";
      return false;
    }
    if (unix_socket_is_live(address.path)) {
      error = "address already in use (a server is listening there)";
      return false;
    }
    ::unlink(address.path.c_str());
  }
  transport_ = Connection::Transport::unix_socket;
  uv_pipe_init(server_.loop(), &handle_.pipe, 0);
  handle_.pipe.data = this;
  opened_ = true;
  int rc = uv_pipe_bind(&handle_.pipe, address.path.c_str());
  if (rc == 0) {
    unix_path_ = address.path;
    rc = uv_listen(stream(), backlog, on_connection);
  }
  if (rc != 0) {
    error = describe(rc);
    return false;
  }
  return true;
}

std::string Listener::bound_address() const {
  if (transport_ == Connection::Transport::unix_socket) return "unix:" + unix_path_;
  sockaddr_storage addr{};
  int len = sizeof addr;
  uv_tcp_getsockname(&handle_.tcp, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a6, host, sizeof host);
    return std::string("[") + host + "]:" + std::to_string(ntohs(a6->sin6_port));
  }
  auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(a4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a4->sin_port));
}

void Listener::close() {
  if (!opened_ || closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), nullptr);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

// libuv already copes with EMFILE/ENFILE by accepting and closing the pending
// connection on a reserved descriptor, so the loop does not spin; we only log,
// at most once a second.
void Listener::on_connection(uv_stream_t* stream, int status) {
  Listener& self = *static_cast<Listener*>(stream->data);
  if (status < 0) {
    const std::uint64_t now = self.server_.now_ms();
    if (now - self.last_accept_error_log_ >= 1000 || self.last_accept_error_log_ == 0) {
      self.last_accept_error_log_ = now;
      log::warn(std::string("accept failed: ") + uv_strerror(status));
    }
    return;
  }
  self.server_.accept(stream, self.transport_);
}

}  // namespace parley
