#include "protocol.hpp"

namespace parley::bench {

std::unique_ptr<Protocol> make_protocol(std::string_view name) {
  if (name == "parley") return make_parley_protocol();
  if (name == "redis") return make_redis_protocol();
  if (name == "nats") return make_nats_protocol();
  return nullptr;
}

}  // namespace parley::bench
