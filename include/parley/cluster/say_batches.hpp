// The says of one loop turn waiting to go to Redis, one batch per channel:
// each batch becomes one `FCALL parley_says` (src/cluster/parley.lua), which
// runs its says back to back and answers them together (docs/cluster.md,
// "Batched says"). Pure bookkeeping: the cluster backend decides when a
// batch goes (at the end of the turn, or at once when it is full) and keeps
// each session's order: a connection's says wait in at most one batch at a
// time, so the caller sends that one before the connection's next say to
// another channel or its next other request.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parley/chat/outcome.hpp"

namespace parley::cluster {

class SayBatches {
 public:
  // Who a say answers: its connection, its place in the connection's
  // answers (ClusterBackend's ticket, also the say's tag in Redis) and the
  // channel as the client typed it (for an error reply).
  struct Say {
    ConnId conn;
    std::uint64_t ticket;
    std::string typed;
  };
  // One say's arguments to parley_says, in its order:
  // U OWNER HEAD MIDDLE TAIL TS FROM TEXT TAG.
  static constexpr std::size_t say_fields = 9;
  using Fields = std::array<std::string_view, say_fields>;

  struct Batch {
    std::string key;                // the channel
    std::vector<std::string> args;  // parley_says': P C HISTORY, then say_fields per say
    std::vector<Say> says;          // in the order of their arguments
    std::size_t bytes = 0;          // of `args`
  };

  // A batch is full at `max_says` says or once its arguments reach
  // `max_bytes` (a say larger than that is a batch of one).
  SayBatches(std::string prefix, std::string history, std::size_t max_says, std::size_t max_bytes);

  // The channel key of the batch holding says of `conn`; null when none.
  const std::string* pending_of(ConnId conn) const;
  // Adds a say to the channel's batch; true when that batch is now full (the
  // caller takes and sends it). `conn` must have no says waiting for another
  // channel (pending_of).
  bool add(const std::string& key, Say say, const Fields& fields);
  // Removes the channel's batch and returns it (empty when there was none).
  Batch take(const std::string& key);
  bool empty() const { return batches_.empty(); }
  // The channels with a batch waiting.
  std::vector<std::string> keys() const;

 private:
  std::string prefix_;
  std::string history_;
  std::size_t max_says_;
  std::size_t max_bytes_;
  std::map<std::string, Batch> batches_;
  std::unordered_map<ConnId, std::string> pending_;  // connection -> its batch's channel
};

}  // namespace parley::cluster
