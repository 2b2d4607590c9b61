// Flood control and connection limits against the real server: a client
// that ignores retry_ms is closed; one IP address cannot take every slot.
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/socket/endpoint.hpp"

using namespace parley::test;

namespace {

// The ok/error replies and the events before EOF, in order.
std::vector<json> read_until_closed(Client& c) {
  std::vector<json> lines;
  while (auto line = c.read_line(5000)) lines.push_back(json::parse(*line));
  return lines;
}

}  // namespace

TEST_CASE("a flooder that ignores retry_ms is answered, then closed with the fatal rate_limited") {
  ServerProcess server({"--rate", "10", "--burst", "10", "--flood-limit", "50"});
  Client flooder(server.address());
  Client bystander(server.address());
  bystander.hello("calm");
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += "{\"cmd\":\"ping\",\"id\":" + std::to_string(i) + "}\n";
  flooder.send_raw(burst);
  const std::vector<json> lines = read_until_closed(flooder);
  // 10 accepted, 51 refused (the 51st refusal in a row is the last straw), then the fatal error.
  REQUIRE(lines.size() == 62);
  for (int i = 0; i < 61; ++i) {
    CHECK(lines[i]["id"] == i);
    CHECK(lines[i]["ok"] == (i < 10));
    if (i >= 10) CHECK(lines[i]["error"]["code"] == "rate_limited");
  }
  CHECK(lines[61]["event"] == "error");
  CHECK(lines[61]["code"] == "rate_limited");
  // The server carries on for everyone else.
  CHECK(bystander.call({{"cmd", "ping"}})["ok"] == true);
  CHECK(server.log().find("fatal rate_limited") != std::string::npos);
}

TEST_CASE("a client slightly over the rate is refused some requests but never closed") {
  ServerProcess server({"--rate", "20", "--burst", "2", "--flood-limit", "5"});
  Client c(server.address());
  // Alternate: one accepted request resets the count, so refusals never reach 6 in a row.
  int refused = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 4; ++i) {
      const json reply = c.call({{"cmd", "ping"}});
      if (reply["ok"] == false) ++refused;
    }
    const json reply = c.call({{"cmd", "ping"}});
    if (reply["ok"] == false) {  // wait as told, then go on
      usleep(static_cast<useconds_t>(reply["error"]["retry_ms"].get<int>() * 1000 + 1000));
      CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
    }
  }
  CHECK(refused > 0);
  CHECK(c.call({{"cmd", "ping"}}, 5000).is_object());  // still connected
}

TEST_CASE("--max-conns-per-ip: the next connection from that address gets server_full; others are not affected") {
  const std::string path = temp_socket_path("limits");
  // Loopback is exempt by default: `none` makes it count, like any address.
  ServerProcess server({"--max-conns-per-ip", "3", "--conn-limit-exempt", "none", "--listen", "127.0.0.1:0",
                        "--listen", "unix:" + path});
  std::vector<Client> three;
  for (int i = 0; i < 3; ++i) {
    three.emplace_back(server.address(0));
    three.back().hello("c" + std::to_string(i));
  }
  Client fourth(server.address(0));
  const json refused = fourth.next();
  CHECK(refused["event"] == "error");
  CHECK(refused["code"] == "server_full");
  CHECK(fourth.wait_closed());
  Client fifth(server.address(0));
  CHECK(fifth.next()["code"] == "server_full");
  // The hint for operators behind a balancer is logged once, not per refusal.
  const std::string log = server.log();
  const std::size_t hint = log.find("--conn-limit-exempt (this is said once)");
  CHECK(hint != std::string::npos);
  CHECK(log.find("--conn-limit-exempt (this is said once)", hint + 1) == std::string::npos);
  // Another source address and Unix-socket clients have their own allowance.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const parley::Endpoint source = resolve_one("127.0.0.2:0");
  REQUIRE(bind(fd, source.get(), source.length) == 0);
  const parley::Endpoint target = resolve_one(server.address(0));
  REQUIRE(connect(fd, target.get(), target.length) == 0);
  const std::string hello = "{\"cmd\":\"hello\",\"nick\":\"other\"}\n";
  REQUIRE(write(fd, hello.data(), hello.size()) == static_cast<ssize_t>(hello.size()));
  char buffer[512];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  REQUIRE(n > 0);
  CHECK(std::string(buffer, static_cast<std::size_t>(n)).find("\"ok\":true") != std::string::npos);
  close(fd);
  for (int i = 0; i < 5; ++i) Client(server.address(1)).hello("local" + std::to_string(i));
  // A slot frees when one of the three leaves.
  three.front().call({{"cmd", "quit"}});
  CHECK(three.front().wait_closed());
  Client again(server.address(0));
  CHECK(again.call({{"cmd", "ping"}})["ok"] == true);
}

TEST_CASE("--conn-limit-exempt: loopback by default; named blocks exempt, others counted") {
  {
    ServerProcess server({"--max-conns-per-ip", "1"});
    std::vector<Client> local;
    for (int i = 0; i < 3; ++i) {
      local.emplace_back(server.address());
      local.back().hello("l" + std::to_string(i));  // REQUIREs success: none refused
    }
  }
  ServerProcess server({"--max-conns-per-ip", "1", "--conn-limit-exempt", "127.0.0.2/32", "--proxy-protocol"});
  auto via_proxy = [&](const std::string& source) {
    Client c(server.address());
    c.send_raw("PROXY TCP4 " + source + " 10.0.0.1 40001 7667\r\n{\"cmd\":\"ping\"}\n");
    return c;
  };
  Client a = via_proxy("127.0.0.2"), b = via_proxy("127.0.0.2");
  CHECK(a.next()["ok"] == true);
  CHECK(b.next()["ok"] == true);  // exempt
  Client c = via_proxy("127.0.0.1"), d = via_proxy("127.0.0.1");
  CHECK(c.next()["ok"] == true);
  CHECK(d.next()["code"] == "server_full");  // the named block replaced the default
}

TEST_CASE("--max-conns-per-ip behind --proxy-protocol counts the address the header names") {
  ServerProcess server({"--proxy-protocol", "--max-conns-per-ip", "1"});
  auto via_proxy = [&](const std::string& source) {
    Client c(server.address());
    c.send_raw("PROXY TCP4 " + source + " 10.0.0.1 40001 7667\r\n{\"cmd\":\"ping\"}\n");
    return c;
  };
  Client a = via_proxy("203.0.113.7");
  CHECK(a.next()["ok"] == true);
  Client b = via_proxy("203.0.113.8");  // same balancer, another client
  CHECK(b.next()["ok"] == true);
  Client c = via_proxy("203.0.113.7");
  const json refused = c.next();
  CHECK(refused["event"] == "error");
  CHECK(refused["code"] == "server_full");
}
