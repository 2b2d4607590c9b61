#include "parley/client/connect.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "parley/socket/endpoint.hpp"

namespace parley::client {
namespace {

// Waits for a non-blocking connect to finish; true when it connected.
bool wait_connected(int fd, int timeout_ms, std::string& error) {
  pollfd p{fd, POLLOUT, 0};
  int ready;
  while ((ready = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (ready == 0) {
    error = "timed out";
    return false;
  }
  int failure = 0;
  socklen_t length = sizeof failure;
  if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0) failure = errno;
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  // A Unix socket whose backlog was full (EAGAIN) is not connecting at all.
  if (failure == 0 && getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) failure = errno;
  if (failure != 0) error = socket_error_text(failure);
  return failure == 0;
}

bool set_blocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
}

}  // namespace

int connect_within(const Address& address, int timeout_ms, std::string& error) {
  for (const Endpoint& endpoint : resolve(address, error)) {
    const int fd = open_socket(endpoint, SOCK_NONBLOCK, true);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    if (!start_connect(fd, endpoint)) error = socket_error_text(errno);
    else if (wait_connected(fd, timeout_ms, error) && set_blocking(fd)) return fd;
    close(fd);
  }
  return -1;
}

}  // namespace parley::client
