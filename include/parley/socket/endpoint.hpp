// From an Address to a socket: name resolution (getaddrinfo for TCP, a
// sockaddr_un for unix:PATH), connecting and binding. The one place that
// knows the options each kind of socket gets, for parleyd's listeners, the
// `parley` client, parley-bench and the tests alike. POSIX only.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "parley/socket/address.hpp"

namespace parley {

// One socket address, ready for socket(), connect() and bind().
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  bool is_tcp() const { return family() == AF_INET || family() == AF_INET6; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The endpoints `address` names, in the order to try them: for HOST:PORT
// every address getaddrinfo gives, for unix:PATH the one path. Empty, with
// `error` set, when the host does not resolve or the path does not fit in
// sun_path.
std::vector<Endpoint> resolve(const Address& address, std::string& error);

// A new stream socket for `endpoint`'s family, close-on-exec, with `flags`
// (SOCK_NONBLOCK) added, and TCP_NODELAY on TCP when `nodelay`. -1 with
// errno set when socket() fails.
int open_socket(const Endpoint& endpoint, int flags, bool nodelay);

// Starts connecting `fd` (from open_socket) to `endpoint`. True when it
// connected or, on a non-blocking socket, is in progress (EINPROGRESS, or
// EAGAIN from a Unix socket whose backlog is full); false with errno set.
bool start_connect(int fd, const Endpoint& endpoint);

// Connects to `address`, blocking, trying its endpoints in order: a
// close-on-exec descriptor, with TCP_NODELAY on TCP. -1 with `error` set (why
// it did not resolve, or why the last endpoint refused) otherwise.
int connect_to(const Address& address, std::string& error);

// A socket bound to the first endpoint of `address`, ready for listen():
// close-on-exec with `flags` added; on TCP with SO_REUSEADDR, and on IPv6
// with IPV6_V6ONLY off, so that [::] serves IPv4 clients too. -1 with `error`
// set otherwise. A Unix socket's path must not exist yet.
int bind_to(const Address& address, int flags, std::string& error);

// strerror(error), except "address already in use" for EADDRINUSE: the way a
// listener's failure reads to the user.
std::string socket_error_text(int error);

}  // namespace parley
