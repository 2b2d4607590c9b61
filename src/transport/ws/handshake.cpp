#include "parley/transport/ws/handshake.hpp"

#include <algorithm>
#include <cctype>

#include "parley/transport/ws/accept_key.hpp"

namespace parley::ws {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// The 101: the accept key, and the subprotocol when the client offered ours.
std::string switching_protocols(const UpgradeRequest& request) {
  std::string out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  out += "Sec-WebSocket-Accept: " + accept_key(trim(request.key)) + "\r\n";
  if (has_token(request.protocols, subprotocol)) out += "Sec-WebSocket-Protocol: " + std::string(subprotocol) + "\r\n";
  return out + "\r\n";
}

bool origin_allowed(const UpgradeRequest& request, const HandshakeOptions& options) {
  if (options.allowed_origins.empty() || request.origin.empty()) return true;
  return std::find(options.allowed_origins.begin(), options.allowed_origins.end(), trim(request.origin)) !=
         options.allowed_origins.end();
}

constexpr std::string_view upgrade_needed = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";

HttpAnswer upgrade(const UpgradeRequest& request, const HandshakeOptions& options) {
  if (!has_token(request.upgrade, "websocket") || !has_token(request.connection, "upgrade"))
    return {426, http_error(426, upgrade_needed)};
  if (request.version_minor < 1 || request.host.empty() || !valid_client_key(trim(request.key)))
    return {400, http_error(400)};
  if (trim(request.version) != "13") return {426, http_error(426, upgrade_needed)};
  if (!origin_allowed(request, options)) return {403, http_error(403)};
  return {101, switching_protocols(request), true};
}

}  // namespace

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (iequal(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nConnection: close\r\n";
  out.append(extra_headers);
  out += "\r\n";
  out.append(body);
  return out;
}

std::string http_error(int status, std::string_view extra_headers) {
  return http_response(status, "text/plain; charset=utf-8",
                       std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n", extra_headers);
}

HttpAnswer answer_request(const UpgradeRequest& request, const HandshakeOptions& options, const WebPage& page) {
  const std::string_view path = path_of(request.target);
  if (path == socket_path) return upgrade(request, options);
  if (path == "/") return {200, http_response(200, page.content_type, page.body, page.extra_headers)};
  return {404, http_error(404)};
}

}  // namespace parley::ws
