#include "parley/transport/ws/web_page.hpp"

namespace parley::ws {
namespace {

// A placeholder until the web client lands: enough for a browser to see the
// server answer and open /ws.
constexpr std::string_view placeholder = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body><h1>Parley</h1><p>This server speaks the Parley chat protocol over WebSocket at <code>/ws</code>.</p></body>
</html>
)";

}  // namespace

const WebPage& web_page() {
  static const WebPage page{"text/html; charset=utf-8", placeholder};
  return page;
}

}  // namespace parley::ws
