// The web client as parleyd embeds it (web/ through tools/inline-web and
// tools/embed-text): one self-contained document, its headers, and the
// rule that chat content is text, never HTML (docs/web-client.md).
#include "parley/transport/ws/web_page.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace {

std::string source(const std::string& relative) {
  const char* root = std::getenv("SOURCE_ROOT");
  REQUIRE_MESSAGE(root, "SOURCE_ROOT is not set (meson test sets it)");
  std::ifstream in(std::string(root) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot read " << relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

TEST_CASE("the embedded page is web/index.html with its style and script inlined") {
  const parley::ws::WebPage& page = parley::ws::web_page();
  CHECK(&page == &parley::ws::web_page());
  CHECK(page.body == parley::ws::web_page_html());
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.starts_with("<!doctype html>"));
  CHECK(page.body.ends_with("</html>\n"));
  // Both files are in it, whole, where index.html pointed at them.
  CHECK(has(page.body, "<style>\n" + source("web/style.css") + "</style>"));
  CHECK(has(page.body, "<script>\n" + source("web/app.js") + "</script>"));
  // It loads nothing: no references to other files or hosts are left.
  CHECK_FALSE(has(page.body, "href=\"style.css\""));
  CHECK_FALSE(has(page.body, "src=\"app.js\""));
  CHECK_FALSE(std::regex_search(std::string(page.body), std::regex(R"(\b(src|href)\s*=)", std::regex::icase)));
  CHECK_FALSE(has(page.body, "http://"));
  CHECK_FALSE(has(page.body, "https://"));
}

TEST_CASE("the page's headers: its type, a policy that allows only its own script, style and socket") {
  const parley::ws::WebPage& page = parley::ws::web_page();
  const std::string csp(page.content_security_policy);
  CHECK(csp.starts_with("default-src 'none'; script-src 'sha256-"));
  CHECK(has(csp, "; style-src 'sha256-"));
  CHECK(has(csp, "; connect-src 'self'"));
  CHECK(has(csp, "; frame-ancestors 'none'"));
  CHECK_FALSE(has(csp, "unsafe"));
  CHECK(page.extra_headers == "Content-Security-Policy: " + csp + "\r\n"
                              "X-Content-Type-Options: nosniff\r\n"
                              "Referrer-Policy: no-referrer\r\n");
}

TEST_CASE("app.js puts chat content in the page as text: no HTML sinks, no eval, nothing from outside") {
  const std::string app = source("web/app.js");
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                           "createContextualFragment", "DOMParser", "srcdoc", "javascript:", "http://", "https://",
                           "fetch(", "XMLHttpRequest", "importScripts", "import("})
    CHECK_MESSAGE(!has(app, sink), "web/app.js uses " << sink);
  CHECK(has(app, "textContent"));
  CHECK(has(app, "new WebSocket(wsUrl(), 'parley.v1')"));
}
