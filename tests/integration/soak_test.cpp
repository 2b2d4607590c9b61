// tools/soak against this build's parleyd: well-behaved users lose nothing
// and see every seq, misbehaving ones are dropped, memory stays flat (not
// checked under the sanitizers, whose allocator keeps freed memory). Once
// against one server for a minute, once with --cluster (three servers and a
// real redis-server) for half a minute.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "redis_server.hpp"  // redis_server_binary

using namespace parley::test;

TEST_CASE("soak: a minute of mixed load with churn, slow consumers and flooders") {
  std::vector<std::string> argv{"python3", source_file("tools/soak"), "--duration", "60", "--parleyd",
                                program("PARLEYD")};
  if (sanitized_build()) argv.push_back("--no-memory-check");
  ChildProcess soak(argv, "");
  const int status = soak.wait(240'000);
  INFO(soak.output());
  CHECK(status == 0);
  CHECK(soak.output().find("result                OK") != std::string::npos);
}

TEST_CASE("soak: half a minute of the same load across a cluster of three servers and one Redis") {
  std::vector<std::string> argv{"python3", source_file("tools/soak"), "--cluster", "--duration", "30",
                                "--parleyd", program("PARLEYD"), "--redis-server", redis_server_binary};
  if (sanitized_build()) argv.push_back("--no-memory-check");
  ChildProcess soak(argv, "");
  const int status = soak.wait(180'000);
  INFO(soak.output());
  CHECK(status == 0);
  CHECK(soak.output().find("against a cluster of 3 parleyd") != std::string::npos);
  CHECK(soak.output().find("result                OK") != std::string::npos);
}
