#include "parley/socket/endpoint.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parley {
namespace {

std::vector<Endpoint> resolve_unix(const std::string& path, std::string& error) {
  sockaddr_un un{};
  if (path.size() >= sizeof un.sun_path) {
    error = "unix socket path is longer than " + std::to_string(sizeof un.sun_path - 1) + " bytes";
    return {};
  }
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.c_str(), path.size() + 1);
  Endpoint e;
  std::memcpy(&e.storage, &un, sizeof un);
  e.length = sizeof un;
  return {e};
}

// AI_PASSIVE would change nothing: the host is never empty (parse_address).
std::vector<Endpoint> resolve_tcp(const Address& address, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + address.host + ": " + gai_strerror(rc);
    return {};
  }
  std::vector<Endpoint> endpoints;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Endpoint e;
    std::memcpy(&e.storage, a->ai_addr, a->ai_addrlen);
    e.length = a->ai_addrlen;
    endpoints.push_back(e);
  }
  freeaddrinfo(found);
  if (endpoints.empty()) error = "cannot resolve " + address.host + ": no address";
  return endpoints;
}

}  // namespace

std::vector<Endpoint> resolve(const Address& address, std::string& error) {
  return address.kind == Address::Kind::unix_socket ? resolve_unix(address.path, error)
                                                    : resolve_tcp(address, error);
}

int open_socket(const Endpoint& endpoint, int flags, bool nodelay) {
  const int fd = ::socket(endpoint.family(), SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd >= 0 && nodelay && endpoint.is_tcp()) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool start_connect(int fd, const Endpoint& endpoint) {
  return ::connect(fd, endpoint.get(), endpoint.length) == 0 || errno == EINPROGRESS || errno == EAGAIN;
}

int connect_to(const Address& address, std::string& error) {
  for (const Endpoint& endpoint : resolve(address, error)) {
    const int fd = open_socket(endpoint, 0, true);
    if (fd >= 0 && ::connect(fd, endpoint.get(), endpoint.length) == 0) return fd;
    error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
  }
  return -1;
}

int bind_to(const Address& address, int flags, std::string& error) {
  const std::vector<Endpoint> endpoints = resolve(address, error);
  if (endpoints.empty()) return -1;
  const Endpoint& endpoint = endpoints.front();
  const int fd = open_socket(endpoint, flags, false);
  bool ok = fd >= 0;
  if (ok && endpoint.is_tcp()) {
    const int one = 1;
    const int zero = 0;
    ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0;
    if (ok && endpoint.family() == AF_INET6)  // [::] serves IPv4 clients too
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  ok = ok && ::bind(fd, endpoint.get(), endpoint.length) == 0;
  if (ok) return fd;
  error = socket_error_text(errno);
  if (fd >= 0) ::close(fd);
  return -1;
}

std::string socket_error_text(int error) {
  if (error == EADDRINUSE) return "address already in use";
  return std::strerror(error);
}

}  // namespace parley
