// What a Redis server sends, as arbitrary bytes: hiredis's own reader under
// Parley's budget (limit_reader), then copy_read_reply with small limits
// (the first byte picks them, the second the chunk size). For every reply:
// a tree the reader built never declares more elements than the budget
// allows (so "*2147483647" allocates nothing); a reply cut short by the
// budget becomes "reply too large"; otherwise the copy is the tree itself,
// exactly, unless the tree crosses a limit, and then it is the error reply
// for a limit it crosses. The same bytes fed at once give the same replies
// and the same end: where a reply ends never depends on how its bytes came.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parley/cluster/hiredis_reader.hpp"
#include "parley/cluster/hiredis_reply.hpp"

using parley::cluster::copy_read_reply;
using parley::cluster::limit_reader;
using parley::cluster::ReaderBudget;
using parley::cluster::RedisReply;
using parley::cluster::ReplyLimits;
using Type = RedisReply::Type;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

// The tree's array depth (the root array is 1) and nodes below the root,
// walked whole: the reader's budget keeps the tree small.
void measure(const redisReply& r, std::size_t depth, std::size_t& deepest, std::size_t& count) {
  if (r.type != REDIS_REPLY_ARRAY) return;
  deepest = depth > deepest ? depth : deepest;
  count += r.elements;
  for (std::size_t i = 0; i < r.elements; ++i)
    if (r.element[i]) measure(*r.element[i], depth + 1, deepest, count);
}

// `copy` is exactly `r`.
bool copies(const RedisReply& copy, const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
      return copy.type == Type::string && copy.str == std::string_view(r.str, r.len);
    case REDIS_REPLY_STATUS:
      return copy.type == Type::status && copy.str == std::string_view(r.str, r.len);
    case REDIS_REPLY_ERROR:
      return copy.type == Type::error && copy.str == std::string_view(r.str, r.len);
    case REDIS_REPLY_INTEGER:
      return copy.type == Type::integer && copy.integer == r.integer;
    case REDIS_REPLY_NIL:
      return copy.type == Type::nil;
    case REDIS_REPLY_ARRAY:
      if (copy.type != Type::array || copy.elements.size() != r.elements) return false;
      for (std::size_t i = 0; i < r.elements; ++i)
        if (r.element[i] == nullptr || !copies(copy.elements[i], *r.element[i])) return false;
      return true;
    default:
      return false;
  }
}

void check(const RedisReply& copy, const redisReply& r, const ReaderBudget& budget, const ReplyLimits& limits) {
  const std::string too_large = "reply too large (more than " + std::to_string(limits.max_elements) + " elements)";
  const std::string too_deep =
      "reply too deep (arrays nested more than " + std::to_string(limits.max_depth) + " levels)";
  if (budget.exceeded) {
    require(copy.type == Type::error && copy.str == too_large);
    return;
  }
  std::size_t deepest = 0, count = 0;
  measure(r, 1, deepest, count);
  require(count <= budget.max_elements);  // what the reader built is within its budget
  const bool deep = deepest > limits.max_depth, large = count > limits.max_elements;
  if (!deep && !large) {
    require(copies(copy, r));
    return;
  }
  require(copy.type == Type::error);
  require((deep && copy.str == too_deep) || (large && copy.str == too_large));
}

struct Run {
  std::vector<RedisReply> replies;
  bool error = false;  // the reader gave up (a protocol error)
};

Run read_all(std::string_view input, std::size_t chunk, const ReplyLimits& limits, std::size_t budget_elements) {
  ReaderBudget budget;
  budget.max_elements = budget_elements;
  redisReader* reader = redisReaderCreate();
  require(reader != nullptr);
  limit_reader(reader, &budget);
  Run run;
  for (std::size_t at = 0; at < input.size() && !run.error; at += chunk) {
    const std::string_view piece = input.substr(at, chunk);
    require(redisReaderFeed(reader, piece.data(), piece.size()) == REDIS_OK);
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
        run.error = true;
        break;
      }
      if (reply == nullptr) break;
      const auto& r = *static_cast<const redisReply*>(reply);
      RedisReply copy = copy_read_reply(&r, budget, limits);
      check(copy, r, budget, limits);
      run.replies.push_back(std::move(copy));
      reader->fn->freeObject(reply);
    }
  }
  redisReaderFree(reader);
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  ReplyLimits limits;
  limits.max_depth = 1 + data[0] % 8;             // 1 .. 8 (hiredis reads 8 at most)
  limits.max_elements = (data[0] / 8) % 32 * 2;   // 0 .. 62
  const std::size_t chunk = 1 + data[1] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  // The reader's budget as the connection sets it (the copy's own element
  // bound), and a roomier one, so that the copy's bound is reached too.
  for (const std::size_t budget : {limits.max_elements, limits.max_elements * 2 + 1}) {
    const Run pieces = read_all(input, chunk, limits, budget);
    const Run whole = read_all(input, input.size() + 1, limits, budget);
    require(pieces.error == whole.error && pieces.replies == whole.replies);
  }
  return 0;
}
