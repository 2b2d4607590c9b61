#include <netinet/in.h>

#include <doctest/doctest.h>

#include "parley/parleyd/cli.hpp"

using namespace parley;

namespace {
CliResult parse(std::vector<std::string> args) { return parse_command_line(args); }
}  // namespace

TEST_CASE("cli: defaults") {
  CliResult r = parse({});
  REQUIRE(r.config);
  CHECK(r.config->listen.size() == 1);
  CHECK(r.config->listen[0].text() == "127.0.0.1:7667");
  CHECK(r.config->limits.max_line == 65536);
  CHECK(r.config->limits.max_text == 4096);
  CHECK(r.config->limits.history == 100);
  CHECK(r.config->limits.max_channels == 100);
  CHECK(r.config->idle_timeout_s == 120);
  CHECK(r.config->ping_interval_s == 25);
  CHECK(r.config->max_clients == 10000);
  CHECK(r.config->max_pending == 1048576);
  CHECK(r.config->drain_timeout_s == 10);
}

TEST_CASE("cli: values, --flag=value, repeated --listen") {
  CliResult r = parse({"--listen", "[::1]:0", "--listen=unix:/tmp/x.sock", "--history=0",
                       "--max-line", "256", "--max-text", "256", "--proxy-protocol"});
  REQUIRE(r.config);
  CHECK(r.config->listen[0].host == "::1");
  CHECK(r.config->listen[0].text() == "[::1]:0");
  CHECK(r.config->listen[1].path == "/tmp/x.sock");
  CHECK(r.config->limits.history == 0);
  CHECK(r.config->limits.max_line == 256);
  CHECK(r.config->proxy_protocol);
}

TEST_CASE("cli: ping interval is lowered to half the idle timeout") {
  CHECK(parse({"--idle-timeout", "10"}).config->ping_interval_s == 5);
  CHECK(parse({"--idle-timeout", "2", "--ping-interval", "30"}).config->ping_interval_s == 1);
  CHECK(parse({"--idle-timeout", "100", "--ping-interval", "7"}).config->ping_interval_s == 7);
}

TEST_CASE("cli: bounds are inclusive, one past is exit 2") {
  CHECK(parse({"--max-line", "256", "--max-text", "200"}).config);
  CHECK(parse({"--max-line", "256"}).exit_code == 2);  // max-text 4096 would not fit
  CHECK(parse({"--max-line", "255", "--max-text", "200"}).exit_code == 2);
  CHECK(parse({"--idle-timeout", "2"}).config);
  CHECK(parse({"--idle-timeout", "1"}).exit_code == 2);
  CHECK(parse({"--max-pending", "1024"}).config);
  CHECK(parse({"--max-pending", "1023"}).exit_code == 2);
  CHECK(parse({"--drain-timeout", "0"}).exit_code == 2);
  CHECK(parse({"--max-clients", "0"}).exit_code == 2);
  CHECK(parse({"--max-channels", "100001"}).exit_code == 2);
  CHECK(parse({"--max-line", "12x"}).exit_code == 2);
  CHECK(parse({"--max-line", ""}).exit_code == 2);
  CHECK(parse({"--proxy-protocol=yes"}).exit_code == 2);
  CliResult bad = parse({"--listen", "localhost"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--listen 'localhost'") != std::string::npos);
  CHECK(parse({"--auth-token-file", "/nonexistent/token"}).exit_code == 2);
}

TEST_CASE("cli: --help and --version exit 0 with text") {
  CliResult help = parse({"--help"});
  CHECK_FALSE(help.config);
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("--max-pending BYTES") != std::string::npos);
  CHECK(parse({"--version"}).output.starts_with("parleyd "));
}

TEST_CASE("addresses") {
  std::string error;
  CHECK(parse_address("0.0.0.0:7667", error)->port == 7667);
  CHECK(parse_address("localhost:0", error)->host == "localhost");
  CHECK_FALSE(parse_address("host:65536", error));
  CHECK_FALSE(parse_address(":80", error));
  CHECK_FALSE(parse_address("::1:80", error));
  CHECK_FALSE(parse_address("unix:", error));
  CHECK_FALSE(parse_address("unix:" + std::string(108, 'p'), error));
  CHECK(parse_address("unix:" + std::string(107, 'p'), error));
}

TEST_CASE("addresses are written back with IPv6 hosts in brackets") {
  CHECK(join_host_port("127.0.0.1", 80) == "127.0.0.1:80");
  CHECK(join_host_port("::1", 7667) == "[::1]:7667");
  const unsigned char v4[4] = {10, 0, 0, 7};
  CHECK(format_ip_port(AF_INET, v4, 5) == "10.0.0.7:5");
  sockaddr_storage storage{};
  auto& a6 = reinterpret_cast<sockaddr_in6&>(storage);
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(443);
  a6.sin6_addr.s6_addr[15] = 1;
  CHECK(format_socket_address(storage) == "[::1]:443");
  storage.ss_family = AF_UNIX;
  CHECK(format_socket_address(storage).empty());
}
