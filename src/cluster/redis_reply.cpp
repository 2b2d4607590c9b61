#include "parley/cluster/redis_reply.hpp"

#include <charconv>

#include "parley/cluster/hiredis_reply.hpp"

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

namespace {

enum class Fit { ok, too_deep, too_large };

// Walks `reply` (at array depth `depth`: the root array is 1) counting the
// nodes below the root into `count`; stops at the first bound crossed.
Fit measure(const redisReply& reply, std::size_t depth, std::size_t& count, const ReplyLimits& limits) {
  if (reply.type != REDIS_REPLY_ARRAY) return Fit::ok;
  if (depth > limits.max_depth) return Fit::too_deep;
  if (reply.elements > limits.max_elements - count) return Fit::too_large;
  count += reply.elements;
  for (std::size_t i = 0; i < reply.elements; ++i) {
    if (reply.element[i] == nullptr) continue;  // hiredis never leaves one, but a hand-made tree might
    const Fit fit = measure(*reply.element[i], depth + 1, count, limits);
    if (fit != Fit::ok) return fit;
  }
  return Fit::ok;
}

RedisReply error_reply(std::string text) {
  RedisReply r;
  r.type = RedisReply::Type::error;
  r.str = std::move(text);
  return r;
}

// Precondition: `reply` fits the limits (measure said so).
RedisReply copy(const redisReply& reply) {
  RedisReply r;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      r.type = RedisReply::Type::string;
      r.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      r.type = RedisReply::Type::status;
      r.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      r.type = RedisReply::Type::error;
      r.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      r.type = RedisReply::Type::integer;
      r.integer = reply.integer;
      break;
    case REDIS_REPLY_NIL:
      break;
    case REDIS_REPLY_ARRAY:
      r.type = RedisReply::Type::array;
      r.elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i)
        r.elements.push_back(reply.element[i] ? copy(*reply.element[i]) : RedisReply{});
      break;
    default:
      return error_reply("unknown reply type " + std::to_string(reply.type));
  }
  return r;
}

}  // namespace

RedisReply copy_reply(const redisReply* reply, const ReplyLimits& limits) {
  if (reply == nullptr) return RedisReply::failed("no reply");
  std::size_t count = 0;
  switch (measure(*reply, 1, count, limits)) {
    case Fit::ok:
      return copy(*reply);
    case Fit::too_deep:
      return error_reply("reply too deep (arrays nested more than " + std::to_string(limits.max_depth) + " levels)");
    case Fit::too_large:
      break;
  }
  return too_large_reply(limits);
}

RedisReply too_large_reply(const ReplyLimits& limits) {
  return error_reply("reply too large (more than " + std::to_string(limits.max_elements) + " elements)");
}

}  // namespace parley::cluster
