#include "spread.hpp"

namespace parley::bench {

std::uint32_t first_server(Scenario scenario, std::size_t index, std::size_t publishers, std::size_t servers) {
  if (servers <= 1) return 0;
  if (scenario == Scenario::fanout || scenario == Scenario::ramp) {
    if (index < publishers) return 0;
    return static_cast<std::uint32_t>(1 + (index - publishers) % (servers - 1));
  }
  return static_cast<std::uint32_t>(index % servers);
}

std::uint32_t next_server(std::uint32_t current, std::size_t servers) {
  return servers <= 1 ? 0 : static_cast<std::uint32_t>((current + 1) % servers);
}

}  // namespace parley::bench
