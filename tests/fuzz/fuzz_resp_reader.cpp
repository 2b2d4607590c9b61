// What a Redis server sends on a RESP3 connection, as arbitrary bytes, into
// our own reader (RespReader) with small bounds (the first byte picks them,
// the second the chunk size). For every value: its nodes are a well-formed
// pre-order tree (each `end` past its subtree, the root's at the end), no
// deeper than max_depth and with no more nodes than max_elements allow; and
// the same bytes fed at once give the same values, the same push flags and
// the same end (broken or not, and why): where a value ends never depends
// on how its bytes came.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parley/cluster/resp_reader.hpp"

using parley::cluster::RedisReply;
using parley::cluster::RespLimits;
using parley::cluster::RespNode;
using parley::cluster::RespReader;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

// The subtree at `i` (at aggregate depth `depth`) is well formed; returns
// the index past it, which must be its `end`.
std::size_t check_tree(const std::vector<RespNode>& nodes, std::size_t i, std::size_t depth, const RespLimits& limits) {
  require(i < nodes.size());
  const RespNode& node = nodes[i];
  std::size_t next = i + 1;
  if (node.type == RespNode::Type::array) {
    require(depth <= limits.max_depth);
    for (std::uint32_t k = 0; k < node.size; ++k) next = check_tree(nodes, next, depth + 1, limits);
  } else {
    require(node.size == 0);
  }
  require(node.end == next);
  return next;
}

struct Run {
  std::vector<RedisReply> values;
  std::vector<bool> pushes;
  bool broken = false;
  std::string why;
};

Run read_all(std::string_view input, std::size_t chunk, const RespLimits& limits) {
  RespReader reader(limits);
  Run run;
  for (std::size_t at = 0; at < input.size() && !run.broken; at += chunk) {
    reader.feed(input.substr(at, chunk));
    for (;;) {
      const RespReader::Status status = reader.next();
      if (status == RespReader::Status::incomplete) break;
      if (status == RespReader::Status::broken) {
        run.broken = true;
        run.why = reader.why();
        require(!run.why.empty());
        break;
      }
      const std::vector<RespNode>& nodes = reader.nodes();
      require(!nodes.empty() && nodes.size() <= limits.max_elements + 1);
      require(check_tree(nodes, 0, 1, limits) == nodes.size());
      run.values.push_back(reader.reply());
      run.pushes.push_back(reader.push());
    }
  }
  require(run.broken || reader.buffered() <= limits.max_bytes);
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  RespLimits limits;
  limits.max_depth = 1 + data[0] % 8;            // 1 .. 8
  limits.max_elements = (data[0] / 8) % 32 * 2;  // 0 .. 62
  limits.max_bytes = 64 + data[1] % 4 * 256;     // 64 .. 832
  const std::size_t chunk = 1 + data[1] / 4 % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Run pieces = read_all(input, chunk, limits);
  const Run whole = read_all(input, input.size() + 1, limits);
  require(pieces.broken == whole.broken && pieces.why == whole.why);
  require(pieces.values == whole.values && pieces.pushes == whole.pushes);
  return 0;
}
