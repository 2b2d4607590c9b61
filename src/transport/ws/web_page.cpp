// The web client's document and its headers, from the bytes that
// tools/inline-web and tools/embed-text generated at build time
// (web/meson.build).
#include "parley/transport/ws/web_page.hpp"

#include <string>

namespace parley::ws {

// Defined by the generated web_page_html.cpp and web_page_csp.cpp.
extern const std::string_view web_page_embedded_html;
extern const std::string_view web_page_embedded_csp;

namespace {

// Built once, on first use (the embedded views belong to other translation
// units, so not during static initialisation).
const std::string& extra_header_lines() {
  static const std::string lines = "Content-Security-Policy: " + std::string(web_page_embedded_csp) +
                                   "\r\n"
                                   "X-Content-Type-Options: nosniff\r\n"
                                   "Referrer-Policy: no-referrer\r\n";
  return lines;
}

}  // namespace

const WebPage& web_page() {
  static const WebPage page{"text/html; charset=utf-8", web_page_embedded_html, web_page_embedded_csp,
                            extra_header_lines()};
  return page;
}

std::string_view web_page_html() { return web_page().body; }

}  // namespace parley::ws
