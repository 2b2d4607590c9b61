// The socket module: resolving addresses, binding and connecting on loopback.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <doctest/doctest.h>

#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

using namespace parley;

namespace {

Address parse(const std::string& text) {
  std::string error;
  const auto address = parse_address(text, error);
  REQUIRE_MESSAGE(address, error);
  return *address;
}

unsigned port_of(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  return ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
}

}  // namespace

TEST_CASE("endpoint: numeric TCP addresses and unix paths resolve to one endpoint each") {
  std::string error;
  const auto v4 = resolve(parse("127.0.0.1:7667"), error);
  REQUIRE(v4.size() == 1);
  CHECK(v4[0].family() == AF_INET);
  CHECK(v4[0].is_tcp());
  CHECK(format_socket_address(v4[0].storage) == "127.0.0.1:7667");
  const auto v6 = resolve(parse("[::1]:80"), error);
  REQUIRE(v6.size() == 1);
  CHECK(v6[0].family() == AF_INET6);
  CHECK(format_socket_address(v6[0].storage) == "[::1]:80");
  const auto local = resolve(parse("unix:/run/parley.sock"), error);
  REQUIRE(local.size() == 1);
  CHECK_FALSE(local[0].is_tcp());
  CHECK(local[0].length == sizeof(sockaddr_un));
  CHECK(std::string(reinterpret_cast<const sockaddr_un&>(local[0].storage).sun_path) == "/run/parley.sock");
}

TEST_CASE("endpoint: a unix path longer than sun_path is an error, not a truncation") {
  Address address;
  address.kind = Address::Kind::unix_socket;
  address.path = std::string(108, 'p');
  std::string error;
  CHECK(resolve(address, error).empty());
  CHECK(error == "unix socket path is longer than 107 bytes");
  CHECK(connect_to(address, error) == -1);
  CHECK(bind_to(address, 0, error) == -1);
}

TEST_CASE("endpoint: bind_to and connect_to on loopback; the port in use is refused") {
  std::string error;
  const int listener = bind_to(parse("127.0.0.1:0"), SOCK_NONBLOCK, error);
  REQUIRE_MESSAGE(listener >= 0, error);
  REQUIRE(listen(listener, 4) == 0);
  CHECK((fcntl(listener, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((fcntl(listener, F_GETFL) & O_NONBLOCK) != 0);
  const std::string bound = "127.0.0.1:" + std::to_string(port_of(listener));
  const int client = connect_to(parse(bound), error);
  REQUIRE_MESSAGE(client >= 0, error);
  int nodelay = 0;
  socklen_t length = sizeof nodelay;
  REQUIRE(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0);
  CHECK(nodelay != 0);
  CHECK((fcntl(client, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((fcntl(client, F_GETFL) & O_NONBLOCK) == 0);  // connect_to blocks
  CHECK(bind_to(parse(bound), 0, error) == -1);
  CHECK(error == "address already in use");
  close(client);
  close(listener);
  CHECK(connect_to(parse(bound), error) == -1);
  CHECK(error == std::strerror(ECONNREFUSED));
}

TEST_CASE("endpoint: [::] takes IPv4 clients too (IPV6_V6ONLY off)") {
  std::string error;
  const int listener = bind_to(parse("[::]:0"), 0, error);
  if (listener < 0) {
    MESSAGE("no IPv6 here: " << error);
    return;
  }
  REQUIRE(listen(listener, 4) == 0);
  const int client = connect_to(parse("127.0.0.1:" + std::to_string(port_of(listener))), error);
  CHECK_MESSAGE(client >= 0, error);
  if (client >= 0) close(client);
  close(listener);
}

TEST_CASE("endpoint: a non-blocking connect starts, and a missing unix socket says why") {
  std::string error;
  const int listener = bind_to(parse("127.0.0.1:0"), 0, error);
  REQUIRE_MESSAGE(listener >= 0, error);
  REQUIRE(listen(listener, 4) == 0);
  const auto target = resolve(parse("127.0.0.1:" + std::to_string(port_of(listener))), error);
  REQUIRE(target.size() == 1);
  const int fd = open_socket(target[0], SOCK_NONBLOCK, false);
  REQUIRE(fd >= 0);
  CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK(start_connect(fd, target[0]));
  close(fd);
  close(listener);
  CHECK(connect_to(parse("unix:/nonexistent/parley.sock"), error) == -1);
  CHECK(error == std::strerror(ENOENT));
}
