// The web client parleyd serves at `GET /` on every chat listener that
// speaks HTTP (web/, docs/web-client.md): one HTML document with its style
// and script inlined, embedded in the binary at build time (no file beside
// it), which chats through `/ws`. Built as its own library, parley_web_page
// (web/meson.build), with nothing but the standard library: no loop, no
// sockets, no HTTP.
#pragma once

#include <string_view>

namespace parley::ws {

// Views of static storage: served without a copy per request.
struct WebPage {
  std::string_view content_type;             // "text/html; charset=utf-8"
  std::string_view body;                     // the whole document, UTF-8
  std::string_view content_security_policy;  // the Content-Security-Policy header's value for it
  // The header lines a 200 response with this body carries besides the
  // status line and the responder's own Content-Type, Content-Length,
  // Cache-Control and Connection: the Content-Security-Policy,
  // X-Content-Type-Options and Referrer-Policy, each ended by CRLF.
  std::string_view extra_headers;
};

// The same object on every call.
const WebPage& web_page();

// web_page().body: the document served at GET /.
std::string_view web_page_html();

}  // namespace parley::ws
