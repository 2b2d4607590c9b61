// The PROXY protocol header (v1 text and v2 binary) that load balancers such
// as HAProxy put before a client's first byte, on the listeners that expect
// one (`--listen ADDR,proxy`, or every TCP listener with `--proxy-protocol`).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

struct ProxyHeader {
  enum class Status { incomplete, complete, bad } status = Status::incomplete;
  std::size_t length = 0;  // bytes of the header when complete
  std::string source;      // "ADDR:PORT" of the real client; empty for LOCAL/UNKNOWN
  // v2's LOCAL command: the balancer's own connection (a health check), with
  // no client behind it. v1 has no such command (UNKNOWN may relay a client).
  bool local = false;
};

// Longest header we ever wait for (v2 with the largest address block we accept).
inline constexpr std::size_t max_proxy_header = 536;

// Looks at the first bytes of a connection.
ProxyHeader parse_proxy_header(std::string_view data);

}  // namespace parley
