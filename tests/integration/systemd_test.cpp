// parleyd's side of systemd: readiness notifications to a real
// NOTIFY_SOCKET datagram socket, and the descriptor limit raised at start.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

// A datagram socket where systemd would listen for sd_notify messages.
class NotifySocket {
 public:
  NotifySocket() : path_(temp_socket_path("notify")) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  // Datagrams until one contains `wanted`; all of them, or "" on timeout.
  std::string until(const std::string& wanted, int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string seen;
    while (seen.find(wanted) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
      char datagram[4096];
      const ssize_t n = ::recv(fd_, datagram, sizeof datagram, 0);
      if (n > 0) seen.append(datagram, static_cast<std::size_t>(n)).push_back('\n');
    }
    return seen;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("sd_notify: READY=1 once listening, STATUS with the clients, STOPPING=1 on SIGTERM") {
  NotifySocket systemd;
  REQUIRE(::setenv("NOTIFY_SOCKET", systemd.path().c_str(), 1) == 0);
  ServerProcess server;
  ::unsetenv("NOTIFY_SOCKET");
  REQUIRE(!systemd.until("READY=1").empty());
  CHECK(!systemd.until("STATUS=serving, 0 clients").empty());  // sent right after READY=1
  Client c(server.address());
  c.hello("watched");
  CHECK(!systemd.until("STATUS=serving, 1 clients").empty());
  CHECK(server.stop(SIGTERM) == 0);  // waits for the exit: the datagram is already here
  CHECK(!systemd.until("STOPPING=1").empty());
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and the server runs as before") {
  ::unsetenv("NOTIFY_SOCKET");
  ServerProcess server;
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}

TEST_CASE("the soft descriptor limit is raised to the hard one at start, and logged") {
  ServerProcess server({}, true, 256, 4096);
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
  CHECK(server.log().find("descriptors: soft limit raised from 256 to 4096") != std::string::npos);
}
