// What the admin listener answers, as plain functions of the hub's state:
// no sockets and no loop here, so each endpoint is testable on its own.
//
//   /healthz  200 "ok" while the loop turns (a stuck loop answers nothing)
//   /readyz   200 while the server takes clients; 503 saying why not
//   /metrics  Prometheus text format 0.0.4 (metrics_text.hpp)
//   /connz    JSON: one object per connection, sorted by id, paged
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "parley/admin/response.hpp"
#include "parley/hub/hub.hpp"

namespace parley {

// /connz pages: `?limit=` at most this many (default connz_default_limit).
inline constexpr std::size_t connz_default_limit = 100;
inline constexpr std::size_t connz_max_limit = 1000;

struct AdminState {
  const Hub& hub;
  std::int64_t now_ms;                     // wall clock
  std::function<std::string()> metrics;    // the /metrics body, made when asked
};

// Answers one request. `target` is the path with its query, as sent.
HttpResponse route(std::string_view method, std::string_view target, const AdminState& state);

HttpResponse healthz();
HttpResponse readyz(const Readiness& readiness);
HttpResponse connz(const Hub& hub, std::string_view query, std::int64_t now_ms);

}  // namespace parley
