// Redis URLs: the two forms, their defaults, and an error for the rest.
#include <string>

#include <doctest/doctest.h>

#include "parley/cluster/redis_address.hpp"

using namespace parley::cluster;

namespace {

RedisAddress parse(const std::string& url) {
  std::string error;
  const auto address = parse_redis_url(url, error);
  REQUIRE_MESSAGE(address, url << ": " << error);
  return *address;
}

// The error for `url`, which must not parse.
std::string error_of(const std::string& url) {
  std::string error;
  CHECK_MESSAGE(!parse_redis_url(url, error), url << " parsed");
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("redis url: redis://HOST:PORT, with the port 6379 by default") {
  const RedisAddress named = parse("redis://redis.internal:6380");
  CHECK_FALSE(named.unix_socket);
  CHECK(named.host == "redis.internal");
  CHECK(named.port == 6380);
  CHECK(named.to_string() == "redis://redis.internal:6380");
  const RedisAddress plain = parse("redis://10.0.0.7");
  CHECK(plain.host == "10.0.0.7");
  CHECK(plain.port == 6379);
  CHECK(plain.to_string() == "redis://10.0.0.7:6379");
  CHECK(parse("redis://localhost:65535").port == 65535);
  CHECK(parse("redis://h:1").port == 1);
}

TEST_CASE("redis url: an IPv6 host goes in brackets, which the host loses") {
  const RedisAddress v6 = parse("redis://[::1]:7000");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  CHECK(v6.to_string() == "redis://[::1]:7000");
  const RedisAddress v6_default = parse("redis://[fd00::2]");
  CHECK(v6_default.host == "fd00::2");
  CHECK(v6_default.port == 6379);
  CHECK(error_of("redis://::1:6379").find("brackets") != std::string::npos);
  CHECK(error_of("redis://[::1").find("']'") != std::string::npos);
  CHECK(error_of("redis://[::1]6379").find(":PORT") != std::string::npos);
  CHECK(error_of("redis://[]:6379").find("missing host") != std::string::npos);
}

TEST_CASE("redis url: redis+unix:///PATH") {
  const RedisAddress local = parse("redis+unix:///run/redis/redis.sock");
  CHECK(local.unix_socket);
  CHECK(local.path == "/run/redis/redis.sock");
  CHECK(local.to_string() == "redis+unix:///run/redis/redis.sock");
  CHECK(error_of("redis+unix://host/run/redis.sock").find("no host") != std::string::npos);
  CHECK(error_of("redis+unix://").find("absolute path") != std::string::npos);
  CHECK(error_of("redis+unix:///" + std::string(200, 'p')).find("longer than") != std::string::npos);
}

TEST_CASE("redis url: empty hosts and bad ports are errors that say so") {
  CHECK(error_of("redis://").find("missing host") != std::string::npos);
  CHECK(error_of("redis://:6379").find("missing host") != std::string::npos);
  for (const char* url : {"redis://h:0", "redis://h:65536", "redis://h:99999999", "redis://h:63x9", "redis://h:-1",
                          "redis://h:+80", "redis://[::1]:0"})
    CHECK_MESSAGE(error_of(url).find("port must be a number from 1 to 65535") != std::string::npos, url);
  CHECK(error_of("redis://h:").find("missing port") != std::string::npos);
  CHECK(error_of("redis://[::1]:").find("missing port") != std::string::npos);
}

TEST_CASE("redis url: what is not supported (yet) says so") {
  CHECK(error_of("redis://user:secret@h:6379").find("user:password@ in a Redis URL is not supported yet") !=
        std::string::npos);
  CHECK(error_of("redis://:secret@h").find("not supported yet") != std::string::npos);
  CHECK(error_of("redis://h:6379/0").find("no database") != std::string::npos);
  CHECK(error_of("redis://h?timeout=1").find("no database") != std::string::npos);
  CHECK(error_of("rediss://h:6379").find("TLS") != std::string::npos);
  CHECK(error_of("http://h:6379").find("unsupported scheme 'http://'") != std::string::npos);
  CHECK(error_of("h:6379").find("expected redis://HOST[:PORT] or redis+unix:///PATH") != std::string::npos);
  CHECK(error_of("").find("expected") != std::string::npos);
  CHECK(error_of("REDIS://h").find("unsupported scheme") != std::string::npos);
}
