// The web client's document and its headers, from the bytes that
// tools/inline-web and tools/embed-text generated at build time.
#include "parley/transport/ws/web_page.hpp"

#include <string>

namespace parley {

// Defined by the generated web_page_html.cpp and web_page_csp.cpp.
extern const std::string_view web_page_embedded_html;
extern const std::string_view web_page_embedded_csp;

namespace {

constexpr std::string_view html_type = "text/html; charset=utf-8";

// Built once, on first use (the embedded views are constants of other
// translation units, so not at static initialisation).
const std::string& header_lines() {
  static const std::string lines = std::string("Content-Type: ") + std::string(html_type) + "\r\n" +
                                   "Content-Security-Policy: " + std::string(web_page_embedded_csp) + "\r\n" +
                                   "X-Content-Type-Options: nosniff\r\n"
                                   "Referrer-Policy: no-referrer\r\n"
                                   "Cache-Control: no-cache\r\n";
  return lines;
}

}  // namespace

const WebPage& web_page() {
  static const WebPage page{html_type, web_page_embedded_html, web_page_embedded_csp, header_lines()};
  return page;
}

std::string_view web_page_html() { return web_page().body; }

}  // namespace parley
