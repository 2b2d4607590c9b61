// Where the backplane's Redis is: `redis://HOST:PORT` (HOST a name, an IPv4
// address or [IPv6]; PORT defaults to 6379) or `redis+unix:///PATH`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::cluster {

struct RedisAddress {
  bool unix_socket = false;
  std::string host;        // tcp: as written (brackets removed)
  std::uint16_t port = 6379;
  std::string path;        // unix

  std::string to_string() const;  // for logs: the URL again
};

// nullopt with `error` set when `url` is not one of the two forms.
std::optional<RedisAddress> parse_redis_url(std::string_view url, std::string& error);

}  // namespace parley::cluster
