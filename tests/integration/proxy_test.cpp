// The PROXY protocol: the balancer's header names the real client. Which
// listeners expect it (`--listen ADDR,proxy`, or every TCP one with
// `--proxy-protocol`), who may send it (`--trusted-proxy`), and the v2
// LOCAL health check, closed quietly.
#include <chrono>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

// v1 naming 203.0.113.7:40001 as the client.
const std::string v1_header = "PROXY TCP4 203.0.113.7 10.0.0.1 40001 7667\r\n";

// v2 PROXY over TCP4 naming 198.51.100.5:12345 as the client.
std::string v2_header() {
  return v2_signature + std::string("\x21\x11\x00\x0c", 4) +
         std::string("\xc6\x33\x64\x05\x7f\x00\x00\x01\x30\x39\x1d\xf3", 12);
}

// v2 LOCAL, as a balancer's health check sends it.
std::string v2_local() { return v2_signature + std::string("\x20\x00\x00\x00", 4); }

const std::string ping_line = "{\"cmd\":\"ping\",\"id\":1}\n";

// A connection that must start with a header and sent none: told so, closed.
void check_header_required(const std::string& address) {
  Client c(address);
  c.send_raw(ping_line);
  const json error = c.next();
  CHECK(error["event"] == "error");
  CHECK(error["code"] == "bad_proxy_header");
  CHECK(c.wait_closed());
}

// A connection that needs no header: a ping is answered.
void check_plain(const std::string& address) {
  Client c(address);
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}

// The "conn=N " token of the first log line holding `what`.
std::string conn_of(const std::string& log, const std::string& what) {
  for (const std::string& line : lines_of(log)) {
    if (line.find(what) == std::string::npos) continue;
    const auto at = line.find("conn=");
    REQUIRE(at != std::string::npos);
    return line.substr(at, line.find(' ', at) - at + 1);
  }
  FAIL("no log line holds '" << what << "':\n" << log);
  return {};
}

}  // namespace

TEST_CASE("PROXY v1 header: accepted, the real peer is logged") {
  ServerProcess server({"--proxy-protocol"});
  Client c(server.address());
  c.send_raw(v1_header + "{\"cmd\":\"hello\",\"nick\":\"px\",\"id\":1}\n");
  CHECK(c.next()["ok"] == true);
  CHECK(server.log().find("peer=203.0.113.7:40001") != std::string::npos);
}

TEST_CASE("PROXY v2 header split over two writes") {
  ServerProcess server({"--proxy-protocol"});
  Client c(server.address());
  const std::string header = v2_header();
  c.send_raw(header.substr(0, 10));
  c.send_raw(header.substr(10) + ping_line);
  CHECK(c.next()["ok"] == true);
  CHECK(server.log().find("peer=198.51.100.5:12345") != std::string::npos);
}

TEST_CASE("a missing or malformed PROXY header is fatal bad_proxy_header") {
  ServerProcess server({"--proxy-protocol"});
  check_header_required(server.address());
}

TEST_CASE("a connection that sends no PROXY header gets bad_proxy_header after --proxy-header-timeout") {
  ServerProcess server({"--proxy-protocol", "--proxy-header-timeout", "1"});
  Client silent(server.address());
  const auto start = std::chrono::steady_clock::now();
  const json error = silent.wait_event("error", 5000);
  CHECK(error["code"] == "bad_proxy_header");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
  CHECK(silent.wait_closed());
  Client c(server.address());  // one that sends it in time is served
  c.send_raw(v1_header + ping_line);
  CHECK(c.next()["ok"] == true);
}

TEST_CASE("a ,proxy listener expects the header; the plain listener beside it does not") {
  ServerProcess server({"--listen", "127.0.0.1:0,proxy", "--listen", "127.0.0.1:0"});
  const std::string& proxied = server.address(0);
  const std::string& plain = server.address(1);

  Client through(proxied);
  through.send_raw(v1_header + "{\"cmd\":\"hello\",\"nick\":\"px\",\"id\":1}\n");
  CHECK(through.next()["ok"] == true);
  check_header_required(proxied);

  check_plain(plain);
  // There a header is no header, just a line that is not JSON: answered, not fatal.
  Client direct(plain);
  direct.send_raw(v1_header + ping_line);
  const json refused = direct.next();
  CHECK(refused["ok"] == false);
  CHECK(direct.next()["ok"] == true);

  const std::string log = server.log();
  CHECK(log.find("peer=203.0.113.7:40001 connected through proxy 127.0.0.1:") != std::string::npos);
  CHECK(log.find("listening on " + proxied + " (PROXY header first)") != std::string::npos);
  CHECK(log.find("listening on " + plain + "\n") != std::string::npos);
}

TEST_CASE("--proxy-protocol still makes every TCP listener expect the header, Unix ones only with ,proxy") {
  const std::string plain_path = temp_socket_path("proxy-plain");
  const std::string proxied_path = temp_socket_path("proxy-proxied");
  ServerProcess server({"--proxy-protocol", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--listen",
                        "unix:" + plain_path, "--listen", "unix:" + proxied_path + ",proxy"});
  check_header_required(server.address(0));
  check_header_required(server.address(1));
  check_plain(server.address(2));
  check_header_required(server.address(3));

  Client second(server.address(1));
  second.send_raw(v2_header() + ping_line);
  CHECK(second.next()["ok"] == true);
  // Through a Unix socket the header names the client just the same.
  Client local(server.address(3));
  local.send_raw(v1_header + ping_line);
  CHECK(local.next()["ok"] == true);
  CHECK(server.log().find("peer=203.0.113.7:40001 connected through proxy unix") != std::string::npos);
}

TEST_CASE("--trusted-proxy 10.0.0.0/8: a loopback source gets bad_proxy_header; listeners without ,proxy ignore it") {
  ServerProcess server({"--listen", "127.0.0.1:0,proxy", "--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8"});
  // Refused at accept, before any header is read: nothing need be sent.
  Client untrusted(server.address(0));
  const json error = untrusted.next();
  CHECK(error["event"] == "error");
  CHECK(error["code"] == "bad_proxy_header");
  CHECK(error["message"].get<std::string>().find("127.0.0.1 is not a trusted proxy") != std::string::npos);
  CHECK(untrusted.wait_closed());
  const std::string log = server.log();
  CHECK(log.find("fatal bad_proxy_header: 127.0.0.1 is not a trusted proxy") != std::string::npos);

  check_plain(server.address(1));
}

TEST_CASE("--trusted-proxy 127.0.0.0/8: a loopback balancer is trusted, the client comes from its header") {
  ServerProcess server({"--listen", "127.0.0.1:0,proxy", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy",
                        "127.0.0.0/8"});
  Client c(server.address());
  c.send_raw(v2_header() + "{\"cmd\":\"hello\",\"nick\":\"px\",\"id\":1}\n");
  CHECK(c.next()["ok"] == true);
  const std::string log = server.log();
  CHECK(log.find("peer=198.51.100.5:12345 connected through proxy 127.0.0.1:") != std::string::npos);
  CHECK(log.find("not a trusted proxy") == std::string::npos);
}

TEST_CASE("--trusted-proxy does not apply to a Unix socket listener: its file's permissions do") {
  const std::string path = temp_socket_path("proxy-trusted");
  ServerProcess server({"--listen", "unix:" + path + ",proxy", "--trusted-proxy", "10.0.0.0/8"});
  Client c(server.address());
  c.send_raw(v1_header + ping_line);
  CHECK(c.next()["ok"] == true);
}

TEST_CASE("a PROXY v2 LOCAL health check is closed quietly, never counted per IP, and the server serves on") {
  // One connection per IP, loopback counted: if the check were counted under
  // its socket's 127.0.0.1, the holder's slot would refuse it with server_full.
  ServerProcess server({"--listen", "127.0.0.1:0,proxy", "--max-conns-per-ip", "1", "--conn-limit-exempt", "none",
                        "--log-level", "debug", "--admin", "127.0.0.1:0"});
  Client holder(server.address());
  holder.send_raw("PROXY TCP4 127.0.0.1 127.0.0.1 50000 7667\r\n{\"cmd\":\"hello\",\"nick\":\"holder\",\"id\":1}\n");
  REQUIRE(holder.next()["ok"] == true);

  Client check(server.address());
  check.send_raw(v2_local());
  CHECK(check.wait_closed());
  CHECK(check.drained.empty());  // no `error` event, nothing at all

  // Every line about it is at debug; the server logged it, so it saw it.
  const std::string log = server.log();
  const std::string conn = conn_of(log, "PROXY LOCAL: a health check from the balancer");
  int lines = 0;
  for (const std::string& line : lines_of(log)) {
    if (line.find(conn) == std::string::npos) continue;
    ++lines;
    CHECK_MESSAGE(line.find(" debug " + conn) != std::string::npos, line);
  }
  CHECK(lines >= 2);  // the check, and its close
  CHECK(log.find(conn + "peer=127.0.0.1:") != std::string::npos);
  CHECK(log.find("disconnected: connection closed (proxy_local)") != std::string::npos);
  CHECK(metric_value(http_get(server.admin_address(), "/metrics").body,
                     "parley_connections_closed_total{reason=\"proxy_local\"}") == 1);

  // Still serving: the holder, and a new client through the proxy.
  CHECK(holder.call({{"cmd", "ping"}})["ok"] == true);
  Client next(server.address());
  next.send_raw(v1_header + ping_line);
  CHECK(next.next()["ok"] == true);
}
