// Everything `parleyd` can be told on its command line. The initialisers
// here (and in Limits, RateLimit) are the defaults: --help prints them from a
// default-constructed ServerConfig, and a unit test checks docs/operations.md
// against them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/socket/address.hpp"
#include "parley/socket/cidr.hpp"
#include "parley/socket/listen_spec.hpp"
#include "parley/chat/limits.hpp"
#include "parley/log/log.hpp"

namespace parley {

// Where parleyd listens when no --listen is given.
inline constexpr std::string_view default_listen = default_address;

// Clients never counted against --max-conns-per-ip unless told otherwise:
// loopback, where load tests and balancers on the same host connect from.
inline std::vector<Cidr> default_conn_limit_exempt() {
  std::string unused;
  return {*parse_cidr("127.0.0.0/8", unused), *parse_cidr("::1", unused)};
}

struct ServerConfig {
  // Each listener's address and options (`,proxy`); empty: default_listen.
  // After parsing, `--proxy-protocol` has set `proxy` on every TCP one.
  std::vector<ListenSpec> listen;
  Limits limits;
  unsigned idle_timeout_s = 120;
  unsigned ping_interval_s = 25;         // lowered to idle_timeout_s / 2
  std::size_t max_clients = 10000;
  // Per client IP (the PROXY header's source behind a balancer); 0: no limit.
  std::size_t max_conns_per_ip = 1000;
  std::vector<Cidr> conn_limit_exempt = default_conn_limit_exempt();
  bool conn_limit_exempt_given = false;  // the first --conn-limit-exempt replaces the default
  std::size_t max_pending = 1048576;     // bytes of unsent events per connection
  unsigned drain_timeout_s = 10;
  unsigned shutdown_retry_ms = 2000;     // the middle of the shutdown event's retry_ms
  unsigned resume_grace_s = 15;          // a session whose connection closed is held this long
  std::size_t max_held_sessions = 100000;  // --max-held: held sessions at most (a cluster's, in a cluster)
  std::string node_id;                   // hello's server.node; empty: the host name
  // The backplane (--cluster): empty for a server on its own.
  std::string cluster;                   // redis://HOST:PORT or redis+unix:///PATH
  std::string cluster_prefix = "parley"; // every key and pub/sub channel starts with it
  std::uint64_t node_lease_ms = 10000;   // a server that cannot renew its lease this long is lost
  std::uint64_t cluster_timeout_ms = 2000;  // each backplane command, and each connect
  std::size_t cluster_max_in_flight = 10000; // backplane commands awaiting a reply
  std::size_t pipeline_depth = 64;       // in a cluster, one connection's requests in flight at once
  std::size_t cluster_batch = 64;        // says of one turn for one channel in one Redis call, at most
  std::size_t cluster_batch_bytes = 65536;  // ... and their arguments' bytes, at most
  std::uint64_t drain_grace_ms = 5000;   // SIGTERM: time for clients to leave by themselves
  std::uint64_t drain_window_ms = 20000; // SIGTERM: then the rest close one by one over this
  bool proxy_protocol = false;           // every TCP listener expects a PROXY v1/v2 header first
  // Who may send a PROXY header to a proxy listener; empty: any source.
  std::vector<Cidr> trusted_proxies;
  std::uint64_t proxy_header_timeout_ms = 5000;  // for a proxy listener's header, from the accept
  // HTTP on the chat listeners (docs/websocket.md): `GET /` the web page,
  // `GET /ws` the WebSocket.
  bool http = true;                      // --no-http turns it off
  std::size_t http_max_header = 8192;    // bytes of request line and headers
  std::uint64_t http_timeout_ms = 10000; // for the whole request
  std::uint64_t ws_close_timeout_ms = 5000;  // for the client's close frame after ours
  std::vector<std::string> allowed_origins;  // empty: any Origin
  std::optional<std::string> auth_token; // read from --auth-token-file
  std::string auth_token_file;
  LogLevel log_level = LogLevel::info;
  // The admin HTTP listener (/healthz, /readyz, /metrics, /connz); off when unset.
  std::optional<Address> admin;
  std::size_t admin_max_conns = 16;      // admin connections at once
  unsigned admin_timeout_s = 10;         // for each admin request to arrive whole
  // `listen` holds default_listen only because no --listen was given: chat
  // sockets from systemd then stand in for it.
  bool listen_defaulted = false;
};

}  // namespace parley
