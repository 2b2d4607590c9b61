// A Redis reply as Parley keeps it: copied out of the reader's buffer
// (RespReader::reply), so callers may keep it.
// `failure` is ours, not Redis's: the command got no reply at all (timed
// out, the connection dropped, refused before sending); `str` says why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::cluster {

struct RedisReply {
  enum class Type { nil, integer, string, status, error, array, failure };
  Type type = Type::nil;
  std::int64_t integer = 0;
  std::string str;                    // string, status, error, failure
  std::vector<RedisReply> elements;   // array

  bool ok() const { return type != Type::error && type != Type::failure; }
  bool is_nil() const { return type == Type::nil; }
  // The element at `i` of an array, or a nil reply when absent.
  const RedisReply& at(std::size_t i) const;
  // An integer reply, or a string holding one.
  std::optional<std::int64_t> as_integer() const;
  // The same tree: type, value and elements.
  bool operator==(const RedisReply&) const = default;

  static RedisReply failed(std::string why) {
    RedisReply r;
    r.type = Type::failure;
    r.str = std::move(why);
    return r;
  }
};

}  // namespace parley::cluster
