// tools/soak for a minute against this build's parleyd: well-behaved users
// lose nothing and see every seq, misbehaving ones are dropped, memory stays
// flat (not checked under the sanitizers, whose allocator keeps freed memory).
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

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
