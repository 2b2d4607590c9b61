#include "parley/cluster/say_batches.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace parley::cluster {

SayBatches::SayBatches(std::string prefix, std::string history, std::size_t max_says, std::size_t max_bytes)
    : prefix_(std::move(prefix)), history_(std::move(history)), max_says_(std::max<std::size_t>(max_says, 1)),
      max_bytes_(max_bytes) {}

const std::string* SayBatches::pending_of(ConnId conn) const {
  auto it = pending_.find(conn);
  return it == pending_.end() ? nullptr : &it->second;
}

bool SayBatches::add(const std::string& key, Say say, const Fields& fields) {
  auto [it, fresh] = batches_.try_emplace(key);
  Batch& b = it->second;
  if (fresh) {
    b.key = key;
    b.args = {prefix_, key, history_};
    b.args.reserve(3 + say_fields * std::min<std::size_t>(max_says_, 64));
    for (const std::string& a : b.args) b.bytes += a.size();
  }
  for (std::string_view f : fields) {
    b.args.emplace_back(f);
    b.bytes += f.size();
  }
  auto [at, added] = pending_.try_emplace(say.conn, key);
  assert((added || at->second == key) && "a connection's says wait in one batch at a time");
  (void)at;
  (void)added;
  b.says.push_back(std::move(say));
  return b.says.size() >= max_says_ || b.bytes >= max_bytes_;
}

SayBatches::Batch SayBatches::take(const std::string& key) {
  auto it = batches_.find(key);
  if (it == batches_.end()) return {};
  Batch b = std::move(it->second);
  batches_.erase(it);
  for (const Say& s : b.says) pending_.erase(s.conn);
  return b;
}

std::vector<std::string> SayBatches::keys() const {
  std::vector<std::string> out;
  out.reserve(batches_.size());
  for (const auto& [key, batch] : batches_) out.push_back(key);
  return out;
}

}  // namespace parley::cluster
