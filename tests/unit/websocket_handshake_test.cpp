// The HTTP side of the WebSocket transport: the accept key (RFC 6455's own
// example), reading the request, and what each request is answered.
#include <string>

#include <doctest/doctest.h>

#include "parley/transport/ws/accept_key.hpp"
#include "parley/transport/ws/handshake.hpp"
#include "parley/transport/ws/upgrade_reader.hpp"

using namespace parley::ws;

namespace {

const std::string upgrade_request =
    "GET /ws HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, parley.v1\r\nSec-WebSocket-Version: 13\r\n\r\n";

UpgradeRequest read(const std::string& bytes, std::size_t chunk = 1 << 20) {
  UpgradeReader reader;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const UpgradeReader::Result r = reader.feed(std::string_view(bytes).substr(at, chunk));
    if (r.status == UpgradeReader::Status::complete) return reader.request();
    REQUIRE(r.status == UpgradeReader::Status::need_more);
  }
  FAIL("the request never completed");
  return {};
}

HttpAnswer answer(const std::string& bytes, HandshakeOptions options = {}) {
  return answer_request(read(bytes), options, web_page());
}

std::string without(std::string request, const std::string& header_line) {
  return request.erase(request.find(header_line), header_line.size());
}

}  // namespace

TEST_CASE("websocket: the accept key of RFC 6455's example") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  CHECK_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));
  CHECK_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25j!Q=="));
}

TEST_CASE("websocket: the upgrade request is read whole, however it is cut") {
  for (std::size_t chunk : {1, 7, 4096}) {
    const UpgradeRequest r = read(upgrade_request, chunk);
    CHECK(r.target == "/ws");
    CHECK(r.key == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(r.version == "13");
    CHECK(r.protocols == "chat, parley.v1");
    CHECK(r.origin == "http://example.com");
    CHECK(r.host == "server.example.com");
  }
}

TEST_CASE("websocket: the 101 carries the accept key and selects parley.v1 when offered") {
  const HttpAnswer a = answer(upgrade_request);
  CHECK(a.upgrade);
  CHECK(a.status == 101);
  CHECK(a.bytes.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(a.bytes.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(a.bytes.find("Sec-WebSocket-Protocol: parley.v1\r\n") != std::string::npos);
  CHECK(a.bytes.ends_with("\r\n\r\n"));
  const HttpAnswer none = answer(without(upgrade_request, "Sec-WebSocket-Protocol: chat, parley.v1\r\n"));
  CHECK(none.upgrade);
  CHECK(none.bytes.find("Sec-WebSocket-Protocol") == std::string::npos);
}

TEST_CASE("websocket: refusals: 426 without an upgrade or version 13, 400 without a key, 403 for other origins") {
  CHECK(answer(without(upgrade_request, "Upgrade: websocket\r\n")).status == 426);
  std::string v8 = upgrade_request;
  v8.replace(v8.find("Version: 13"), 11, "Version: 8");
  const HttpAnswer old = answer(v8);
  CHECK(old.status == 426);
  CHECK(old.bytes.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(answer(without(upgrade_request, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")).status == 400);
  HandshakeOptions only;
  only.allowed_origins = {"https://chat.example.com"};
  CHECK(answer(upgrade_request, only).status == 403);
  only.allowed_origins.push_back("http://example.com");
  CHECK(answer(upgrade_request, only).status == 101);
  // No Origin at all is no browser: let through.
  only.allowed_origins = {"https://chat.example.com"};
  CHECK(answer(without(upgrade_request, "Origin: http://example.com\r\n"), only).status == 101);
}

TEST_CASE("websocket: GET / is the page, anything else 404") {
  const HttpAnswer page = answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(page.status == 200);
  CHECK(page.bytes.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(page.bytes.ends_with(web_page().body));
  CHECK(answer("GET /?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  CHECK(answer("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
  CHECK(answer("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").status == 426);
}

TEST_CASE("websocket: a request past the header bound is 431, garbage 400, and bytes after it are the socket's") {
  UpgradeReader small(64);
  const UpgradeReader::Result big = small.feed("GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
  CHECK(big.status == UpgradeReader::Status::error);
  CHECK(big.http_status == 431);
  UpgradeReader bad;
  const UpgradeReader::Result garbage = bad.feed("GET \x01\x02 nonsense\r\n\r\n");
  CHECK(garbage.status == UpgradeReader::Status::error);
  CHECK(garbage.http_status == 400);
  UpgradeReader reader;
  const std::string frames = "\x81\x80\x01\x02\x03\x04";
  const UpgradeReader::Result r = reader.feed(upgrade_request + frames);
  CHECK(r.status == UpgradeReader::Status::complete);
  CHECK(r.used == upgrade_request.size());
}

TEST_CASE("websocket: header tokens are compared case-insensitively") {
  CHECK(has_token("keep-alive, Upgrade", "upgrade"));
  CHECK(has_token("WebSocket", "websocket"));
  CHECK_FALSE(has_token("upgrader", "upgrade"));
  CHECK_FALSE(has_token("", "upgrade"));
}
