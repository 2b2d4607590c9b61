#include "protocol.hpp"

#include <stdexcept>

namespace parley::bench {

void Protocol::resume(std::string&, std::string_view, std::string_view) const {
  throw std::logic_error(std::string(name()) + " has no sessions to resume");
}

void Protocol::history_after(std::string&, std::string_view, std::uint64_t, int) const {
  throw std::logic_error(std::string(name()) + " keeps no history");
}

void Protocol::classify(std::string_view, Frame&) const {
  throw std::logic_error(std::string(name()) + " is not a line protocol: no transport can carry it");
}

std::unique_ptr<Protocol> make_protocol(std::string_view name) {
  if (name == "parley") return make_parley_protocol();
  if (name == "redis") return make_redis_protocol();
  if (name == "nats") return make_nats_protocol();
  return nullptr;
}

}  // namespace parley::bench
