// Registration over TCP and Unix sockets against the real parleyd.
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

void check_registration(const std::string& address) {
  Client a(address);
  json early = a.call({{"cmd", "join"}, {"channel", "#x"}});
  CHECK(early["error"]["code"] == "not_registered");
  CHECK(a.call({{"cmd", "ping"}})["ok"] == true);
  json hello = a.hello("Alice");
  CHECK(hello["nick"] == "Alice");
  CHECK(hello["server"]["protocol"] == 1);
  CHECK(hello["server"]["name"] == "parley");
  CHECK(hello["limits"]["max_line"] == 65536);
  CHECK(hello["limits"]["max_text"] == 4096);
  CHECK(hello["limits"]["max_channels"] == 100);
  CHECK(a.call({{"cmd", "hello"}, {"nick", "again"}})["error"]["code"] == "already_registered");
  Client b(address);
  CHECK(b.call({{"cmd", "hello"}, {"nick", "ALICE"}})["error"]["code"] == "nick_in_use");
  CHECK(b.call({{"cmd", "hello"}, {"nick", "1bad"}})["error"]["code"] == "invalid_nick");
  CHECK(b.hello("bob")["nick"] == "bob");
}

}  // namespace

TEST_CASE("registration over TCP") {
  ServerProcess server;
  check_registration(server.address());
}

TEST_CASE("registration over a Unix socket, the socket file removed at exit") {
  const std::string path = temp_socket_path("reg");
  ServerProcess server({"--listen", "unix:" + path});
  CHECK(server.address() == "unix:" + path);
  check_registration(server.address());
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("IPv6 loopback and several listeners at once") {
  const std::string path = temp_socket_path("multi");
  ServerProcess server({"--listen", "[::1]:0", "--listen", "127.0.0.1:0", "--listen", "unix:" + path});
  CHECK(server.address(0).starts_with("[::1]:"));
  CHECK(server.address(1).starts_with("127.0.0.1:"));
  Client v6(server.address(0));
  Client v4(server.address(1));
  Client local(server.address(2));
  v6.hello("six");
  v4.hello("four");
  local.hello("local");
  v6.join("#all");
  v4.join("#all");
  CHECK(local.join("#all")["members"] == json::parse(R"(["four","local","six"])"));
  CHECK(v6.wait_event("join")["nick"] == "four");
}

TEST_CASE("hello with --auth-token-file: auth_failed unless the token matches") {
  const std::string path = temp_path("token");
  FILE* f = fopen(path.c_str(), "w");
  REQUIRE(f);
  fputs("letmein\n", f);
  fclose(f);
  ServerProcess server({"--auth-token-file", path});
  Client c(server.address());
  CHECK(c.call({{"cmd", "hello"}, {"nick", "x"}})["error"]["code"] == "auth_failed");
  CHECK(c.call({{"cmd", "hello"}, {"nick", "x"}, {"token", "nope"}})["error"]["code"] == "auth_failed");
  CHECK(c.call({{"cmd", "hello"}, {"nick", "x"}, {"token", "letmein"}})["ok"] == true);
  unlink(path.c_str());
}
