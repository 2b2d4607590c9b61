// What the server answers the HTTP request on a chat port: the RFC 6455
// upgrade (101), the web page (200), or why not (400, 403, 404, 426, ...).
// Pure: a request in, the response's bytes out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parley/transport/ws/upgrade_reader.hpp"
#include "parley/transport/ws/web_page.hpp"

namespace parley::ws {

// The subprotocol the server selects when a client offers it.
inline constexpr std::string_view subprotocol = "parley.v1";
// Where the WebSocket is.
inline constexpr std::string_view socket_path = "/ws";

struct HandshakeOptions {
  // --allowed-origin: when not empty, an upgrade whose Origin is not one of
  // these (compared exactly, as browsers send them) gets 403. A request with
  // no Origin is no browser's and is let through.
  std::vector<std::string> allowed_origins;
};

struct HttpAnswer {
  int status = 0;
  std::string bytes;     // status line, headers and body
  bool upgrade = false;  // 101: the connection is a WebSocket from now on
};

HttpAnswer answer_request(const UpgradeRequest& request, const HandshakeOptions& options, const WebPage& page);

// A whole response that ends the connection: `status`, a short text body,
// and `extra_headers` (whole lines ending in CRLF).
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers = {});
std::string http_error(int status, std::string_view extra_headers = {});

// Whether the comma-separated `list` holds `token`, ASCII case-insensitively
// ("keep-alive, Upgrade" holds "upgrade").
bool has_token(std::string_view list, std::string_view token);

}  // namespace parley::ws
