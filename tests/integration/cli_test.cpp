// parleyd's command line: help, version, bad flags, addresses in use.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "../support/harness.hpp"

using namespace parley::test;

TEST_CASE("--help lists every flag; --version prints the version") {
  ServerProcess help({"--help", "--listen", "127.0.0.1:0"}, false);
  CHECK(help.wait_exit() == 0);
  for (const char* flag : {"--listen", "--max-line", "--max-text", "--history", "--max-channels",
                           "--idle-timeout", "--ping-interval", "--max-clients", "--max-pending",
                           "--drain-timeout", "--log-level", "--version", "--help", "--proxy-protocol",
                           "--auth-token-file", "--shutdown-retry-ms", "--rate", "--burst", "--flood-limit",
                           "--max-conns-per-ip"})
    CHECK_MESSAGE(help.stdout_text().find(flag) != std::string::npos, flag);
  ServerProcess version({"--version", "--listen", "127.0.0.1:0"}, false);
  CHECK(version.wait_exit() == 0);
  CHECK(version.stdout_text().starts_with("parleyd 0."));
}

TEST_CASE("bad flags and values exit 2 with a clear message") {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--max-line", "abc"}, {"--max-line"}, {"--idle-timeout", "0"},
           {"--listen", "nowhere"}, {"--listen", "[::1]"}, {"--log-level", "loud"},
           {"--max-text", "100000", "--max-line", "1000"}, {"--max-pending", "-5"}}) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    ServerProcess server(args, false);
    CHECK(server.wait_exit() == 2);
    CHECK(server.log().starts_with("parleyd: "));
  }
}

TEST_CASE("a TCP address in use exits 1") {
  ServerProcess first;
  ServerProcess second({"--listen", first.address()}, false);
  CHECK(second.wait_exit() == 1);
  CHECK(second.log().find("address already in use") != std::string::npos);
}

TEST_CASE("unix: a stale socket file is replaced, a live one is refused") {
  const std::string path = "/tmp/parley-stale-" + std::to_string(getpid()) + ".sock";
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    close(fd);  // leaves the file behind, as a crashed server would
  }
  ServerProcess server({"--listen", "unix:" + path});
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
  ServerProcess rival({"--listen", "unix:" + path}, false);
  CHECK(rival.wait_exit() == 1);
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);  // the live server kept its socket
}
