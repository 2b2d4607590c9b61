// Reading what the Redis functions (src/cluster/parley.lua) return into the
// chat layer's values: the shapes of their replies, in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/chat/message_log.hpp"
#include "parley/cluster/redis_reply.hpp"

namespace parley::cluster {

// A positive integer reply (an integer, or its text); 0 for anything else.
std::uint64_t unsigned_of(const RedisReply& r);

// A text reply, or none for nil (a topic that is not set).
std::optional<std::string> optional_text(const RedisReply& r);

// The nick of a channel's member entry ("OWNER NICK").
std::string_view member_nick(std::string_view entry);

// The nicks of an array of member entries, sorted as the contract lists
// them (by their folded form).
std::vector<std::string> sorted_nicks(const RedisReply& entries);

// A history stream entry (id "SEQ-0", fields ts, f, t, ...) as a message.
LoggedMessage logged(const RedisReply& entry);

// A history entry's field, by name ("" when it has none).
const std::string& entry_field(const RedisReply& entry, std::string_view name);

}  // namespace parley::cluster
