// Socket activation: the LISTEN_* parsing (pure), the environment taken and
// forgotten, and Listener::adopt on real sockets of each kind.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <doctest/doctest.h>

#include "parley/net/listen_fds.hpp"
#include "parley/net/listener.hpp"
#include "parley/parleyd/cli.hpp"

using namespace parley;

namespace {

constexpr long self = 4242;

ListenFds parsed(const ListenEnvironment& env) {
  std::string error;
  std::optional<ListenFds> fds = parse_listen_fds(env, self, error);
  REQUIRE_MESSAGE(fds, error);
  return *fds;
}

// The error parse_listen_fds gives; fails the test when it gives none.
std::string refused(const ListenEnvironment& env) {
  std::string error;
  CHECK_FALSE(parse_listen_fds(env, self, error));
  CHECK(!error.empty());
  return error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("listen fds: nothing set, or nothing for this process, is no activation") {
  CHECK(parsed({}).sockets.empty());
  CHECK(parsed({}).ignored.empty());
  // LISTEN_PID of another process (a parent's variables leaked to us): its
  // other variables are not even read.
  const ListenFds other = parsed({"77", "2", "chat:admin"});
  CHECK(other.sockets.empty());
  CHECK(contains(other.ignored, "LISTEN_PID=77 is another process (this is 4242)"));
  CHECK(parsed({"77", "garbage", "x:y:z"}).sockets.empty());
  // One variable without the other.
  CHECK(parsed({std::nullopt, "1", std::nullopt}).sockets.empty());
  CHECK(contains(parsed({std::nullopt, "1", std::nullopt}).ignored, "without LISTEN_PID"));
  CHECK(contains(parsed({"4242", std::nullopt, std::nullopt}).ignored, "without LISTEN_FDS"));
  // Zero sockets for us: nothing to take, whatever the names say.
  CHECK(parsed({"4242", "0", std::nullopt}).sockets.empty());
  CHECK(parsed({"4242", "0", ""}).sockets.empty());
}

TEST_CASE("listen fds: counts give descriptors from 3; no names means chat") {
  const ListenFds one = parsed({"4242", "1", std::nullopt});
  REQUIRE(one.sockets.size() == 1);
  CHECK(one.sockets[0].fd == 3);
  CHECK(one.sockets[0].role == SocketRole::chat);
  CHECK(one.sockets[0].name == "unknown");
  CHECK(one.ignored.empty());
  const ListenFds three = parsed({"4242", "3", std::nullopt});
  REQUIRE(three.sockets.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(three.sockets[i].fd == 3 + i);
    CHECK(three.sockets[i].role == SocketRole::chat);
  }
  CHECK(parsed({"4242", "1024", std::nullopt}).sockets.size() == max_listen_fds);
  CHECK(parsed({"4242", "007", std::nullopt}).sockets.size() == 7);  // decimal, as libsystemd reads it
}

TEST_CASE("listen fds: names pick the role") {
  const ListenFds fds = parsed({"4242", "4", "chat:admin:unknown:chat"});
  REQUIRE(fds.sockets.size() == 4);
  CHECK(fds.sockets[0].role == SocketRole::chat);
  CHECK(fds.sockets[1].role == SocketRole::admin);
  CHECK(fds.sockets[1].fd == 4);
  CHECK(fds.sockets[1].name == "admin");
  CHECK(fds.sockets[2].role == SocketRole::chat);  // systemd's "unknown"
  CHECK(fds.sockets[2].name == "unknown");
  CHECK(fds.sockets[3].role == SocketRole::chat);
  const ListenFds admin_only = parsed({"4242", "1", "admin"});
  REQUIRE(admin_only.sockets.size() == 1);
  CHECK(admin_only.sockets[0].role == SocketRole::admin);
}

TEST_CASE("listen fds: bad numbers are start-up errors naming the variable") {
  for (const char* pid : {"", "0", "-1", "+4242", " 4242", "4242 ", "42x", "abc", "99999999999999999999999"})
    CHECK(contains(refused({pid, "1", std::nullopt}), "LISTEN_PID='" + std::string(pid) + "' is not a process id"));
  for (const char* fds : {"", "-1", "+1", " 1", "1 ", "1.0", "one", "0x2", "99999999999999999999999"})
    CHECK(contains(refused({"4242", fds, std::nullopt}), "LISTEN_FDS='" + std::string(fds) + "' is not a number"));
  CHECK(contains(refused({"4242", "1025", std::nullopt}), "LISTEN_FDS=1025 passes more sockets than parleyd takes (1024)"));
}

TEST_CASE("listen fds: more or fewer names than sockets is an error, as in libsystemd") {
  CHECK(contains(refused({"4242", "2", "chat:admin:extra"}),
                 "LISTEN_FDNAMES='chat:admin:extra' names 3 sockets but LISTEN_FDS passes 2"));
  CHECK(contains(refused({"4242", "2", "chat"}), "names 1 sockets but LISTEN_FDS passes 2"));
  CHECK(contains(refused({"4242", "1", ""}), "names 0 sockets but LISTEN_FDS passes 1"));
  CHECK(contains(refused({"4242", "1", "chat:"}), "names 2 sockets"));  // empty entries count
}

TEST_CASE("listen fds: an unknown or empty name is an error naming it") {
  const std::string metrics = refused({"4242", "2", "chat:metrics"});
  CHECK(contains(metrics, "LISTEN_FDNAMES names socket 4 'metrics'"));
  CHECK(contains(metrics, "chat"));
  CHECK(contains(metrics, "admin"));
  CHECK(contains(refused({"4242", "2", "chat:"}), "gives socket 4 an empty name"));
  CHECK(contains(refused({"4242", "2", "::"}), "names 3 sockets"));
  CHECK(contains(refused({"4242", "1", "Chat"}), "'Chat'"));  // names are exact
  // systemd's name when the unit sets no FileDescriptorName=: the unit's own.
  CHECK(contains(refused({"4242", "1", "parleyd.socket"}), "(set FileDescriptorName= in parleyd.socket)"));
}

TEST_CASE("listen fds: one admin socket at most") {
  CHECK(contains(refused({"4242", "3", "admin:chat:admin"}),
                 "LISTEN_FDNAMES names both socket 3 and socket 5 admin; parleyd has one admin listener"));
}

TEST_CASE("listen fds: take_listen_fds unsets all three variables, whoever they were for") {
  const std::string me = std::to_string(::getpid());
  std::string error;
  REQUIRE(::setenv("LISTEN_PID", me.c_str(), 1) == 0);
  REQUIRE(::setenv("LISTEN_FDS", "0", 1) == 0);
  REQUIRE(::setenv("LISTEN_FDNAMES", "", 1) == 0);
  std::optional<ListenFds> ours = take_listen_fds(error);
  REQUIRE(ours);
  CHECK(ours->sockets.empty());
  CHECK_FALSE(std::getenv("LISTEN_PID"));
  CHECK_FALSE(std::getenv("LISTEN_FDS"));
  CHECK_FALSE(std::getenv("LISTEN_FDNAMES"));

  REQUIRE(::setenv("LISTEN_PID", "1", 1) == 0);  // init's, not ours
  REQUIRE(::setenv("LISTEN_FDS", "1", 1) == 0);
  REQUIRE(::setenv("LISTEN_FDNAMES", "chat", 1) == 0);
  std::optional<ListenFds> theirs = take_listen_fds(error);
  REQUIRE(theirs);
  CHECK(theirs->sockets.empty());
  CHECK_FALSE(std::getenv("LISTEN_PID"));
  CHECK_FALSE(std::getenv("LISTEN_FDS"));
  CHECK_FALSE(std::getenv("LISTEN_FDNAMES"));

  REQUIRE(::setenv("LISTEN_PID", me.c_str(), 1) == 0);
  REQUIRE(::setenv("LISTEN_FDS", "bad", 1) == 0);
  CHECK_FALSE(take_listen_fds(error));
  CHECK(contains(error, "LISTEN_FDS='bad'"));
  CHECK_FALSE(std::getenv("LISTEN_PID"));
  CHECK_FALSE(std::getenv("LISTEN_FDS"));
}

// Chat sockets from systemd stand in for the default address, never for one
// given with --listen (parleyd/main.cpp), so the config tells them apart.
TEST_CASE("listen fds: the config says whether its listen address is only the default") {
  const CliResult none = parse_command_line({});
  REQUIRE(none.config);
  CHECK(none.config->listen_defaulted);
  const CliResult given = parse_command_line({"--listen", std::string(default_listen)});
  REQUIRE(given.config);
  CHECK_FALSE(given.config->listen_defaulted);
  CHECK(given.config->listen.size() == 1);
}

namespace {

// A loop with one listener on it, closed and run to the end by the destructor.
struct AdoptFixture {
  uv_loop_t loop{};
  Listener listener{init(), [](int fd, TransportKind, std::string, const ListenSpec&) { ::close(fd); }};
  uv_loop_t* init() {
    REQUIRE(uv_loop_init(&loop) == 0);
    return &loop;
  }
  ~AdoptFixture() {
    listener.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

int tcp_socket(int type) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

}  // namespace

TEST_CASE("listener adopt: a listening TCP socket, made non-blocking, with its bound address") {
  AdoptFixture f;
  const int fd = tcp_socket(SOCK_STREAM);  // blocking, as systemd passes it
  REQUIRE(::listen(fd, 16) == 0);
  std::string error;
  REQUIRE_MESSAGE(f.listener.adopt(fd, false, error), error);
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK(f.listener.bound_address().starts_with("127.0.0.1:"));
  CHECK(f.listener.bound_address() != "127.0.0.1:0");
}

TEST_CASE("listener adopt: a listening Unix socket keeps its file at close") {
  const std::string path = "/tmp/parley-unit-" + std::to_string(::getpid()) + "-adopt.sock";
  ::unlink(path.c_str());
  {
    AdoptFixture f;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    std::string error;
    REQUIRE_MESSAGE(f.listener.adopt(fd, false, error), error);
    CHECK(f.listener.bound_address() == "unix:" + path);
  }
  CHECK(::access(path.c_str(), F_OK) == 0);  // the socket unit's, not ours to remove
  ::unlink(path.c_str());
}

TEST_CASE("listener adopt: refuses what is not a listening stream socket") {
  std::string error;
  {
    AdoptFixture f;  // bound, never listened on: what Accept=yes's connection looks like to SO_ACCEPTCONN
    CHECK_FALSE(f.listener.adopt(tcp_socket(SOCK_STREAM), false, error));
    CHECK(contains(error, "not listening"));
  }
  {
    AdoptFixture f;
    CHECK_FALSE(f.listener.adopt(tcp_socket(SOCK_DGRAM), false, error));
    CHECK(contains(error, "not a stream socket"));
  }
  {
    AdoptFixture f;
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    ::close(pipe_fds[1]);
    CHECK_FALSE(f.listener.adopt(pipe_fds[0], false, error));
    CHECK(error == "not a socket");
  }
}
