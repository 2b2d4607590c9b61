// The web client (web/, docs/web-client.md), embedded in the binary at build
// time: one HTML document with its style and script inlined, which the
// WebSocket transport's HTTP responder serves at `GET /` and which chats
// through `/ws`. Built as its own library, parley_web_page (web/meson.build),
// with nothing but the standard library: no loop, no sockets.
#pragma once

#include <string_view>

namespace parley {

struct WebPage {
  std::string_view content_type;             // "text/html; charset=utf-8"
  std::string_view body;                     // the whole document, UTF-8
  std::string_view content_security_policy;  // a Content-Security-Policy header's value for it
  // Every header line a 200 response with this body carries besides the
  // status line, Content-Length, Connection and Date: Content-Type, the
  // Content-Security-Policy, X-Content-Type-Options, Referrer-Policy and
  // Cache-Control, each ended by CRLF.
  std::string_view headers;
};

// The same object on every call; its views point at static storage.
const WebPage& web_page();

// web_page().body: the document served at GET /.
std::string_view web_page_html();

}  // namespace parley
