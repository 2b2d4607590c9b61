// The web client parleyd serves at `GET /` on every chat listener that
// speaks HTTP. The page is part of the binary (no file beside it).
//
// This is the one place the page comes from: web_page.cpp returns it. The
// web client (web/, issue 13 part 2) replaces the placeholder there with its
// files embedded at build time (tools/embed-text, as src/cluster embeds its
// Lua); nothing else changes.
#pragma once

#include <string_view>

namespace parley::ws {

struct WebPage {
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;          // static storage: served without a copy per request
};

const WebPage& web_page();

}  // namespace parley::ws
