#include "parley/cluster/hiredis_reader.hpp"

#include "parley/cluster/hiredis_reply.hpp"

namespace parley::cluster {
namespace {

// hiredis's own reply functions, which ours wrap: read from a fresh reader
// once (hiredis keeps them static and does not export them).
const redisReplyObjectFunctions& defaults() {
  static const redisReplyObjectFunctions table = [] {
    redisReader* reader = redisReaderCreate();
    const redisReplyObjectFunctions copy = *reader->fn;
    redisReaderFree(reader);
    return copy;
  }();
  return table;
}

// What every part of a reply over budget becomes: one static object, never
// freed, never attached to a parent (so a real array keeps a NULL there,
// which freeReplyObject skips). A nil, not an array: hiredis's own code
// looks inside arrays it is handed.
redisReply discarded = [] {
  redisReply r{};
  r.type = REDIS_REPLY_NIL;
  return r;
}();

// The task's budget; a new reply (the root: no parent) starts it over.
ReaderBudget& budget_of(const redisReadTask* task) {
  auto& budget = *static_cast<ReaderBudget*>(task->privdata);
  if (task->parent == nullptr) {
    budget.declared = 0;
    budget.exceeded = false;
  }
  return budget;
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  if (budget_of(task).exceeded) return &discarded;
  return defaults().createString(task, str, len);
}

void* create_array(const redisReadTask* task, int elements) {
  ReaderBudget& budget = budget_of(task);
  const auto count = static_cast<std::size_t>(elements > 0 ? elements : 0);
  if (budget.exceeded || count > budget.max_elements - budget.declared) {
    budget.exceeded = true;
    return &discarded;
  }
  budget.declared += count;
  return defaults().createArray(task, elements);
}

void* create_integer(const redisReadTask* task, long long value) {
  if (budget_of(task).exceeded) return &discarded;
  return defaults().createInteger(task, value);
}

void* create_nil(const redisReadTask* task) {
  if (budget_of(task).exceeded) return &discarded;
  return defaults().createNil(task);
}

void free_object(void* reply) {
  if (reply != &discarded) freeReplyObject(reply);
}

redisReplyObjectFunctions bounded = {create_string, create_array, create_integer, create_nil, free_object};

}  // namespace

void limit_reader(redisReader* reader, ReaderBudget* budget) {
  (void)defaults();  // now, not inside a hiredis callback
  budget->declared = 0;
  budget->exceeded = false;
  reader->fn = &bounded;
  reader->privdata = budget;
}

RedisReply copy_read_reply(const redisReply* reply, const ReaderBudget& budget, const ReplyLimits& limits) {
  if (budget.exceeded) return too_large_reply(limits);
  return copy_reply(reply, limits);
}

}  // namespace parley::cluster
