// Redis replies read from a byte stream by our own code: RESP3, and RESP2
// as its subset. A connection that said `HELLO 3` gets its pub/sub
// messages as pushes between the replies to its commands, in the order
// Redis ran them, so one connection carries both (redis_connection; the
// sender's reply and its own message in one write). hiredis 0.14 reads
// only RESP2; this reader does not use it.
//
// Bounded: a reply deeper than max_depth, with more than max_elements
// elements in all, or longer than max_bytes on the wire breaks the stream
// (the connection must be dropped: nothing after it can be trusted) before
// its bytes are buffered or anything of it is built. The bytes are scanned
// once as they come (the scan resumes where the last feed stopped), and a
// reply's nodes are built only once the whole reply is in: feeding a reply
// a byte at a time costs what feeding it at once does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/cluster/redis_reply.hpp"

namespace parley::cluster {

struct RespLimits {
  std::size_t max_depth = 8;            // nested aggregates, the root one being 1
  std::size_t max_elements = 1u << 20;  // elements of one reply, over its whole tree (below 2^32)
  std::size_t max_bytes = 64u << 20;    // one reply on the wire, headers included
};

// One value of a reply. A reply is its nodes in pre-order: an array's
// `size` elements follow it, each with its own subtree; `end` is the index
// just past this node's subtree. RESP3's types map to RESP2's, as hiredis
// and a RESP2 connection would give them: a map is an array of its keys and
// values in turn, a set an array; a double and a big number are strings of
// their digits, a verbatim string its text without the format; a boolean
// true is the integer 1 and false a nil (what a function's Lua true and
// false become in RESP2); a bulk error is an error. Attributes (`|`) are
// skipped: they annotate the value after them, which is what is returned.
struct RespNode {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  std::int64_t integer = 0;
  std::string_view text;   // into the reader's buffer: see RespReader::next
  std::uint32_t size = 0;  // an array's elements
  std::uint32_t end = 0;
};

class RespReader {
 public:
  enum class Status { incomplete, value, broken };

  explicit RespReader(RespLimits limits = {});

  // Appends bytes received. Invalidates the nodes of the last value.
  void feed(std::string_view bytes);

  // The next whole value: `value` (then nodes() and push() describe it until
  // the next call of next() or feed()), `incomplete` (feed more), or
  // `broken` (why() says how; it stays broken).
  Status next();

  const std::vector<RespNode>& nodes() const { return nodes_; }
  // The value is a push (`>`: a pub/sub message or confirmation in RESP3),
  // not the reply to a command.
  bool push() const { return push_; }
  const std::string& why() const { return why_; }
  // The value's node `i` and its subtree as a RedisReply, which owns its
  // strings.
  RedisReply reply(std::size_t i = 0) const;
  // Bytes received and not yet returned as a value.
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  struct Frame {
    std::uint64_t left;  // elements still to come
    bool attribute;      // an attribute's: the value it annotates takes its place
  };
  enum class Scan { more, item, whole, broken };

  Scan scan();
  Scan scan_one();
  bool finish_item();
  Scan fail(std::string why);
  Scan fail_too_long();
  std::size_t build(std::size_t at, bool root);
  std::size_t skip_attributes(std::size_t at);
  void forget_value();

  RespLimits limits_;
  std::string buffer_;
  std::size_t start_ = 0;     // where the value being scanned begins
  std::size_t scanned_ = 0;   // where its scan goes on (the end of a value held)
  std::size_t searched_ = 0;  // no CR before it from scanned_: a long header is searched once
  std::vector<Frame> stack_;  // the aggregates open around scanned_
  std::size_t elements_ = 0;  // declared so far in the value being scanned
  bool holding_ = false;      // a value was returned: consumed at the next call
  std::vector<RespNode> nodes_;
  bool push_ = false;
  bool broken_ = false;
  std::string why_;
};

}  // namespace parley::cluster
