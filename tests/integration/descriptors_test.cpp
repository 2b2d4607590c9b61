// Running out of file descriptors: the server pauses accepting instead of
// spinning or crashing, and serves waiting clients once descriptors free up.
#include <poll.h>

#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

TEST_CASE("EMFILE on accept: no spinning, waiting clients served once others leave") {
  constexpr unsigned limit = 40;
  ServerProcess server({}, true, limit);
  int baseline = 0;
  {
    // Measured with one client connected, so descriptors that libuv opens
    // on first use are counted too.
    Client probe(server.address());
    probe.hello("probe");
    baseline = server.open_fds() - 1;
    CHECK(probe.call({{"cmd", "quit"}})["ok"] == true);
    CHECK(probe.wait_closed());
  }
  REQUIRE(baseline > 0);
  const int capacity = static_cast<int>(limit) - baseline;
  REQUIRE(capacity > 5);
  std::vector<Client> served;
  for (int i = 0; i < capacity; ++i) {
    served.emplace_back(server.address());
    served.back().hello("s" + std::to_string(i));
  }
  // These connect (the kernel's backlog takes them) but cannot be accepted yet.
  std::vector<Client> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.emplace_back(server.address());
    waiting.back().send({{"cmd", "hello"}, {"nick", "w" + std::to_string(i)}, {"id", i}});
  }
  CHECK_FALSE(waiting.front().read_line(300).has_value());
  // A second of descriptor exhaustion must cost next to no CPU.
  const long ticks_before = server.cpu_ticks();
  pollfd none{-1, 0, 0};
  poll(&none, 0, 1000);  // a measurement window, not synchronisation
  CHECK(server.cpu_ticks() - ticks_before <= 20);  // at most 0.2 s of CPU in 1 s
  CHECK(server.log().find("accept failed") != std::string::npos);
  for (int i = 0; i < 5; ++i) served.pop_back();  // five leave
  for (int i = 0; i < 5; ++i) {
    json reply = waiting[i].next(5000);
    CHECK(reply["ok"] == true);
    CHECK(reply["id"] == i);
  }
  CHECK(served.front().call({{"cmd", "ping"}})["ok"] == true);
}
