// parleyd's side of systemd: readiness notifications to a real
// NOTIFY_SOCKET datagram socket, the descriptor limit raised at start,
// and socket activation by systemd's own systemd-socket-activate.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

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

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Lines of `text` that start with `prefix`.
std::size_t lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) ++n;
  return n;
}

// A TCP port on 127.0.0.1 kept for one test: a socket bound with
// SO_REUSEADDR that never listens. No other bind or connect can take the
// port meanwhile, yet systemd-socket-activate (which sets SO_REUSEADDR too)
// can bind and listen on it: the kernel lets sockets share a port that way
// while at most one of them listens.
class ReservedPort {
 public:
  ReservedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    const int one = 1;
    REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    address_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  ~ReservedPort() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

// A Unix socket path for the activator to create, removed again at the end
// (parleyd leaves a socket it was passed where it is).
class SocketPath {
 public:
  explicit SocketPath(std::string_view name) : path_(temp_socket_path(name)) { ::unlink(path_.c_str()); }
  ~SocketPath() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string address() const { return "unix:" + path_; }
  bool exists() const { return ::access(path_.c_str(), F_OK) == 0; }

 private:
  std::string path_;
};

// systemd-socket-activate (package systemd) with `options`: it listens on
// each --listen (descriptors 3, 4, ... in order) and execs parleyd once the
// first connection arrives (with --accept: forks one per connection). It
// passes parleyd only PATH, TERM, USER, HOME and what --setenv names, so the
// sanitizers' settings are named too.
ServerProcess::Wrapper socket_activate(std::vector<std::string> options) {
  std::vector<std::string> argv{"systemd-socket-activate"};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
    if (std::getenv(name)) argv.push_back(std::string("--setenv=") + name);
  argv.insert(argv.end(), options.begin(), options.end());
  return {argv};
}

// The activator says "Listening on ADDRESS as FD." once it listens there.
void wait_activator(ServerProcess& activator, std::size_t sockets) {
  REQUIRE_MESSAGE(activator.wait_log("Listening on ", sockets), "systemd-socket-activate did not listen; log:\n"
                                                                    << activator.log());
}

// GET `target` from an admin listener; the whole answer, one line each.
std::string http_get(const std::string& address, const std::string& target) {
  Client http(address);
  http.send_raw("GET " + target + " HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n");
  std::string answer;
  while (std::optional<std::string> line = http.read_line()) answer += *line + "\n";
  return answer;
}

}  // namespace

TEST_CASE("socket activation: chat on TCP and a Unix socket, admin on another, no default address") {
  ReservedPort port;
  SocketPath chat("activated-chat");
  SocketPath admin("activated-admin");
  NotifySocket systemd;
  ServerProcess server(socket_activate({"--listen=" + port.address(), "--listen=" + chat.path(),
                                        "--listen=" + admin.path(), "--fdname=chat:chat:admin",
                                        "--setenv=NOTIFY_SOCKET=" + systemd.path()}),
                       {"--admin", "127.0.0.1:0"});
  wait_activator(server, 3);
  Client over_tcp(port.address());  // the first connection: only now is parleyd started
  server.wait_listening(2);
  CHECK(server.address(0) == port.address());
  CHECK(server.address(1) == chat.address());
  CHECK(!systemd.until("READY=1").empty());

  json welcome = over_tcp.hello("overtcp");
  CHECK(welcome["server"]["name"] == "parley");
  over_tcp.join("#activated");
  Client over_unix(chat.address());
  over_unix.enter("overunix", "#activated");
  CHECK(over_tcp.call({{"cmd", "say"}, {"channel", "#activated"}, {"text", "socket activated"}})["ok"] == true);
  json message = over_unix.wait_event("message");
  CHECK(message["from"] == "overtcp");
  CHECK(message["text"] == "socket activated");

  const std::string health = http_get(admin.address(), "/healthz");
  CHECK_MESSAGE(health.starts_with("HTTP/1.1 200"), health);
  CHECK(health.ends_with("\nok\n"));

  CHECK(server.stop(SIGTERM) == 0);
  const std::string out = server.stdout_text();
  CHECK_MESSAGE(lines_starting(out, "listening on ") == 2, out);  // not the default address besides
  CHECK(contains(out, "admin listening on " + admin.address() + "\n"));
  const std::string log = server.log();
  CHECK(contains(log, "listening on " + port.address() + " (socket 3 from systemd)"));
  CHECK(contains(log, "listening on " + chat.address() + " (socket 4 from systemd)"));
  CHECK(contains(log, "admin: socket 5 from systemd replaces --admin 127.0.0.1:0"));
  // The socket files are the activator's, as they are a socket unit's.
  CHECK(chat.exists());
  CHECK(admin.exists());
}

TEST_CASE("socket activation: sockets without names are chat, served besides --listen") {
  SocketPath chat("activated-unnamed");
  ServerProcess server(socket_activate({"--listen=" + chat.path()}), {"--listen", "127.0.0.1:0"});
  wait_activator(server, 1);
  Client first(chat.address());
  server.wait_listening(2);
  CHECK(server.address(0) == chat.address());
  CHECK(server.address(1).starts_with("127.0.0.1:"));
  Client second(server.address(1));
  first.enter("first", "#both");
  second.enter("second", "#both");
  CHECK(first.wait_event("join")["nick"] == "second");
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(contains(server.log(), "listening on " + chat.address() + " (socket 3 from systemd)"));
}

TEST_CASE("socket activation: --proxy-protocol covers a TCP socket from systemd, not a Unix one") {
  ReservedPort port;
  SocketPath chat("activated-proxy");
  ServerProcess server(socket_activate({"--listen=" + port.address(), "--listen=" + chat.path()}),
                       {"--proxy-protocol"});
  wait_activator(server, 2);
  Client balanced(port.address());
  server.wait_listening(2);
  balanced.send_raw("PROXY TCP4 203.0.113.7 10.0.0.1 40001 7667\r\n");
  balanced.hello("balanced");
  Client local(chat.address());  // no header: Unix listeners are taken as given
  local.hello("local");
  CHECK(server.stop(SIGTERM) == 0);
  CHECK_MESSAGE(contains(server.log(), "peer=203.0.113.7:40001"), server.log());
}

TEST_CASE("socket activation: a socket named neither chat nor admin stops the start, naming it") {
  SocketPath chat("activated-named");
  SocketPath other("activated-other");
  ServerProcess server(socket_activate({"--listen=" + chat.path(), "--listen=" + other.path(), "--fdname=chat:metrics"}),
                       {});
  wait_activator(server, 2);
  Client first(chat.address());
  CHECK(server.wait_exit() == 1);
  CHECK_MESSAGE(contains(server.log(), "parleyd: socket activation: LISTEN_FDNAMES names socket 4 'metrics'; "
                                       "parleyd takes chat (or unknown) for a chat listener and admin for the admin "
                                       "listener\n"),
                server.log());
  CHECK(lines_starting(server.stdout_text(), "listening on ") == 0);
  CHECK(first.wait_closed());  // never served
}

TEST_CASE("socket activation: a connection where a listening socket belongs (Accept=yes) stops the start") {
  SocketPath chat("activated-accept");
  ServerProcess activator(socket_activate({"--accept", "--listen=" + chat.path()}), {});
  wait_activator(activator, 1);
  Client first(chat.address());  // passed to a parleyd of its own, as fd 3
  CHECK_MESSAGE(activator.wait_log("parleyd: cannot use socket 3 from systemd: a stream socket that is not "
                                   "listening (a connection? the socket unit needs Accept=no)\n"),
                activator.log());
  CHECK(activator.wait_log("died with code 1"));
  activator.stop(SIGTERM);  // the activator itself, which would wait for the next connection
  CHECK_FALSE(activator.running());
  CHECK(first.wait_closed());
}
