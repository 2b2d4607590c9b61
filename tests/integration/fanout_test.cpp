// Fan-out to many members: every member gets every message once, in seq order.
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

TEST_CASE("fan-out to 200 members in seq order") {
  ServerProcess server;
  constexpr int members = 200;
  constexpr int messages = 50;
  std::vector<Client> clients;
  clients.reserve(members);
  for (int i = 0; i < members; ++i) {
    clients.emplace_back(server.address());
    clients.back().enter("m" + std::to_string(i), "#big");
  }
  Client publisher(server.address());
  publisher.hello("pub");
  CHECK(publisher.join("#big")["members"].size() == members + 1);
  std::string batch;
  for (int i = 1; i <= messages; ++i)
    batch += "{\"cmd\":\"say\",\"channel\":\"#big\",\"text\":\"msg " + std::to_string(i) + "\"}\n";
  publisher.send_raw(batch);
  for (int i = 1; i <= messages; ++i) CHECK(publisher.next()["seq"] == i);
  for (int c = 0; c < members; ++c) {
    long long expected = 1;
    while (expected <= messages) {
      json e = clients[c].next();
      if (e["event"] != "message") continue;  // joins of later members
      REQUIRE(e["seq"] == expected);
      REQUIRE(e["text"] == "msg " + std::to_string(expected));
      ++expected;
    }
  }
}
