// parleyd's command line: help, version, bad flags, addresses in use.
#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

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
  const std::string path = temp_socket_path("stale");
  {
    std::string error;
    const int fd = parley::bind_to(*parley::parse_address("unix:" + path, error), 0, error);
    REQUIRE_MESSAGE(fd >= 0, error);
    close(fd);  // leaves the file behind, as a crashed server would
  }
  ServerProcess server({"--listen", "unix:" + path});
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
  ServerProcess rival({"--listen", "unix:" + path}, false);
  CHECK(rival.wait_exit() == 1);
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);  // the live server kept its socket
}
