#include "parley/cluster/redis_reply.hpp"

#include <charconv>

namespace parley::cluster {

const RedisReply& RedisReply::at(std::size_t i) const {
  static const RedisReply absent;
  return type == Type::array && i < elements.size() ? elements[i] : absent;
}

std::optional<std::int64_t> RedisReply::as_integer() const {
  if (type == Type::integer) return integer;
  if (type != Type::string) return std::nullopt;
  std::int64_t value = 0;
  const char* end = str.data() + str.size();
  const auto [stop, error] = std::from_chars(str.data(), end, value);
  if (error != std::errc() || stop != end || str.empty()) return std::nullopt;
  return value;
}

}  // namespace parley::cluster
