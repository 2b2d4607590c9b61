// What the backplane's functions publish (src/cluster/parley.lua): a header
// line, then the event's line exactly as clients get it. Reading one costs
// no JSON parsing and no copy: the views point into the payload.
//   "m SEQ OWNER TAG\nLINE"   a channel message (TAG: the sender's number for it)
//   "e OWNER\nLINE"           another channel event (join, part, topic)
//   "u OWNER KEY,KEY\nLINE"   a nick change or quit, for whoever shares one of these channels
//   "d CONN\nLINE"            a direct message to one of this server's connections
//   "r CONN"                  that connection's session was resumed elsewhere
// OWNER is NODE/CONN, the connection that acted, or "-".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::cluster {

struct BusMessage {
  enum class Kind { invalid, message, event, users, direct, replaced };
  Kind kind = Kind::invalid;
  std::uint64_t seq = 0;       // message
  std::string_view owner;      // message ("OWNER TAG": who, and which of its says), event, users
  std::string_view keys;       // users: channel keys, comma-separated
  std::uint64_t conn = 0;      // direct, replaced
  std::string_view line;       // everything but replaced: the event, LF included
};

// `invalid` for anything not of those forms (a broken or foreign publisher).
BusMessage parse_bus_message(std::string_view payload);

// An owner's connection when its node is `node`; 0 otherwise. A message's
// owner may carry its tag after a space.
std::uint64_t local_conn(std::string_view owner, std::string_view node);
// The tag after a message's owner ("NODE/CONN TAG"); nullopt without one.
std::optional<std::uint64_t> owner_tag(std::string_view owner);

}  // namespace parley::cluster
