// WebSocket on the chat port against the real parleyd: real client
// libraries from Debian (python3-websockets, node-ws) drive the protocol
// (tests/websocket/), raw sockets what no library would send (bad HTTP,
// trickled requests), and TCP clients share the channels.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

// Debian's python3, which has python3-websockets (a python3 earlier on
// PATH, such as a pyenv shim, may not).
const std::string python = "/usr/bin/python3";

std::string script(const char* name) { return source_file(std::string("tests/websocket/") + name); }

std::vector<std::string> python_client(const std::string& scenario, const std::string& address) {
  return {python, script("ws_client.py"), scenario, address};
}

const std::string upgrade_request =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// A masked text frame, as a client sends it.
std::string masked_text(const std::string& payload) {
  std::string f = "\x81";
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  }
  const char key[4] = {0x0a, 0x1b, 0x2c, 0x3d};
  f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

// Reads from `fd` until `done(bytes)` or EOF or the timeout; returns what came.
template <class Done>
std::string read_until(int fd, Done done, int timeout_ms = default_timeout_ms) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done(got)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

bool has_headers_end(const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }

// The whole response, read to EOF.
std::string read_to_eof(int fd) {
  return read_until(fd, [](const std::string&) { return false; });
}

// An upgraded raw WebSocket: the 101 read, nothing else.
Client upgraded(const std::string& address) {
  Client c(address);
  c.send_raw(upgrade_request);
  const std::string head = read_until(c.fd(), has_headers_end);
  REQUIRE(head.starts_with("HTTP/1.1 101 "));
  return c;
}

// Bytes of the first whole frame at the start of `s`; 0 while it is cut.
std::size_t frame_size(const std::string& s) {
  if (s.size() < 2) return 0;
  const std::size_t len = static_cast<unsigned char>(s[1]) & 0x7F;
  if (len < 126) return s.size() >= 2 + len ? 2 + len : 0;
  if (s.size() < 4) return 0;
  const std::size_t big = (static_cast<std::size_t>(static_cast<unsigned char>(s[2])) << 8) | static_cast<unsigned char>(s[3]);
  return s.size() >= 4 + big ? 4 + big : 0;
}

// The next frame from the server, any kind: {its first byte (FIN and
// opcode: 0x81 a whole text frame, 0x88 a close), payload}; bytes of
// later frames stay in `pending`. {0, ""} when none came before EOF or the
// timeout.
std::pair<int, std::string> read_frame(int fd, std::string& pending, int timeout_ms = default_timeout_ms) {
  if (frame_size(pending) == 0)
    pending += read_until(fd, [&](const std::string& s) { return frame_size(pending + s) != 0; }, timeout_ms);
  const std::size_t size = frame_size(pending);
  if (size == 0) return {0, ""};
  const std::string frame = pending.substr(0, size);
  pending.erase(0, size);
  return {static_cast<unsigned char>(frame[0]), frame.substr((static_cast<unsigned char>(frame[1]) & 0x7F) < 126 ? 2 : 4)};
}

// The next frame, which must be a whole (unfragmented) text frame: its text.
std::string read_text_frame(int fd, std::string& pending) {
  auto [first, payload] = read_frame(fd, pending);
  REQUIRE(first == 0x81);
  return payload;
}

// A close frame's code and reason.
std::pair<int, std::string> close_of(const std::string& payload) {
  REQUIRE(payload.size() >= 2);
  return {(static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]), payload.substr(2)};
}

// A TCP client answers a ping now: the server is not stalled.
void check_served(Client& tcp) { CHECK(tcp.call({{"cmd", "ping"}}, 2000)["ok"] == true); }

void raise_fd_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

TEST_CASE("python websockets: register, join, say, receive; lines in one message, split over fragments; pings") {
  ServerProcess server;
  Client host(server.address());
  host.enter("host", "#ws");
  ChildProcess py({python, script("ws_client.py"), "converse", server.address(), "py", "#ws", "hello from py"}, "");
  CHECK(host.wait_event("join", 10000)["nick"] == "py");
  const json said = host.wait_event("message", 10000);
  CHECK(said["from"] == "py");
  CHECK(said["text"] == "hello from py");
  host.call({{"cmd", "say"}, {"channel", "#ws"}, {"text", "hi py"}});
  CHECK(py.wait() == 0);
  CHECK(py.output() == "<host> hi py\nclosed 1000\n");
  CHECK(host.wait_event("quit")["nick"] == "py");
}

TEST_CASE("node ws: register, join, say, receive") {
  ServerProcess server;
  Client host(server.address());
  host.enter("host", "#ws");
  ChildProcess node({"env", "NODE_PATH=/usr/share/nodejs", "node", script("ws_client.js"), server.address(), "nodews",
                     "#ws", "hello from node"},
                    "");
  const json said = host.wait_event("message", 10000);
  CHECK(said["from"] == "nodews");
  CHECK(said["text"] == "hello from node");
  host.call({{"cmd", "say"}, {"channel", "#ws"}, {"text", "hi node"}});
  CHECK(node.wait() == 0);
  CHECK(node.output() == "<host> hi node\nclosed 1000\n");
  CHECK(host.wait_event("quit")["nick"] == "nodews");
}

TEST_CASE("python websockets: the client's close is echoed") {
  ServerProcess server;
  ChildProcess py(python_client("close", server.address()), "");
  CHECK(py.wait() == 0);
  CHECK(py.output() == "echoed 4000\n");
}

TEST_CASE("python websockets: binary 1003, invalid UTF-8 1007 (also split), oversized 1009 after the error event") {
  ServerProcess server({"--max-line", "1024", "--max-text", "512"});
  ChildProcess py(python_client("violations", server.address()), "");
  CHECK(py.wait() == 0);
  CHECK(py.output() == "binary 1003\nutf-8 1007\nsplit utf-8 1007\noversized 1009 line_too_long\n");
  CHECK(server.wait_log("disconnected: line_too_long"));
  CHECK(server.wait_log("(ws_violation)", 3));
}

TEST_CASE("an unmasked client frame is refused with 1002") {
  ServerProcess server;
  ChildProcess py(python_client("unmasked", server.address()), "");
  CHECK(py.wait() == 0);
  CHECK(py.output() == "unmasked 1002\n");
}

TEST_CASE("a WebSocket client and a TCP client in one channel see each other's messages in seq order") {
  constexpr int count = 50;
  ServerProcess server;
  Client tcp(server.address());
  tcp.enter("tcp", "#o");
  ChildProcess py({python, script("ws_client.py"), "order", server.address(), "wsorder", "#o", std::to_string(count)},
                  "");
  CHECK(tcp.wait_event("join", 10000)["nick"] == "wsorder");
  std::string says;
  for (int i = 0; i < count; ++i)
    says += json({{"cmd", "say"}, {"channel", "#o"}, {"text", "tcp " + std::to_string(i)}, {"id", i}}).dump() + "\n";
  tcp.send_raw(says);
  std::vector<long long> theirs;
  int replies = 0;
  while (replies < count || static_cast<int>(theirs.size()) < count) {
    const json line = tcp.next(10000);
    if (line.contains("ok"))
      ++replies;
    else if (line["event"] == "message")
      theirs.push_back(line["seq"].get<long long>());
  }
  for (std::size_t i = 1; i < theirs.size(); ++i) CHECK(theirs[i - 1] < theirs[i]);
  CHECK(py.wait() == 0);
  CHECK(py.output() == "in order " + std::to_string(count) + "\n");
}

TEST_CASE("a raw WebSocket: the upgrade trickled byte by byte, then chat in frames; NDJSON starting with one byte") {
  ServerProcess server;
  Client tcp(server.address());
  tcp.hello("tcp");
  Client ws(server.address());
  for (char c : upgrade_request) {
    ws.send_raw(std::string(1, c));
    if (c == ' ' || c == '\n') check_served(tcp);  // paces the bytes, and shows nobody waits for them
  }
  const std::string head = read_until(ws.fd(), has_headers_end);
  CHECK(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  ws.send_raw(masked_text(R"({"cmd":"hello","nick":"raw","id":1})" "\n" R"({"cmd":"ping","id":2})"));
  std::string pending;
  CHECK(json::parse(read_text_frame(ws.fd(), pending))["nick"] == "raw");
  CHECK(json::parse(read_text_frame(ws.fd(), pending))["id"] == 2);
  // A line client whose first read is one byte: buffered until it can tell.
  Client line(server.address());
  line.send_raw("{");
  check_served(tcp);
  line.send_raw(R"("cmd":"ping","id":7})" "\n");
  CHECK(line.next()["id"] == 7);
}

TEST_CASE("bad HTTP on the chat port is answered and closed, never stalling other clients") {
  ServerProcess server({"--http-max-header", "4096"});
  Client tcp(server.address());
  tcp.hello("tcp");
  const auto answer = [&](const std::string& request) {
    Client c(server.address());
    c.send_raw(request);
    const std::string response = read_to_eof(c.fd());
    check_served(tcp);
    return response.substr(0, response.find("\r\n"));
  };
  CHECK(answer("GET \x01\x02 garbage\r\n\r\n") == "HTTP/1.1 400 Bad Request");
  CHECK(answer("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 404 Not Found");
  CHECK(answer("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 426 Upgrade Required");
  CHECK(answer("GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n") ==
        "HTTP/1.1 431 Request Header Fields Too Large");
  Client page(server.address());
  page.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string html = read_to_eof(page.fd());
  CHECK(html.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(html.find("Content-Type: text/html") != std::string::npos);
}

TEST_CASE("a trickled request gets 408 at --http-timeout; meanwhile other clients are served") {
  ServerProcess server({"--http-timeout", "1"});
  Client tcp(server.address());
  tcp.hello("tcp");
  Client slow(server.address());
  slow.send_raw("GET / HTTP/1.1\r\nX-Slow: ");
  std::string response;
  for (int i = 0; i < 1000 && response.empty(); ++i) {
    check_served(tcp);  // each round trip paces the next byte
    ::send(slow.fd(), "a", 1, MSG_NOSIGNAL);
    response = read_until(slow.fd(), [](const std::string& s) { return !s.empty(); }, 20);
  }
  response += read_to_eof(slow.fd());
  CHECK(response.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
}

TEST_CASE("unfinished HTTP requests cost bounded memory") {
  if (sanitized_build()) return;  // freed memory sits in quarantine: RSS means nothing
  raise_fd_limit();
  constexpr int count = 300;
  ServerProcess server({"--http-timeout", "60"});
  Client tcp(server.address());
  tcp.hello("tcp");
  const long before = server.rss_kb();
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < count; ++i) {
    slow.push_back(std::make_unique<Client>(server.address()));
    slow.back()->send_raw("GET / HTTP/1.1\r\nX-Pad: " + std::string(7000, 'p'));
  }
  check_served(tcp);
  for (int i = 0; i < 3; ++i) check_served(tcp);  // the server has read them all by now, or is reading
  const long grown = server.rss_kb() - before;
  MESSAGE("RSS grew " << grown << " KiB for " << count << " requests of 7000 header bytes held open");
  // The reader keeps only the target and a few headers, not the bytes.
  CHECK(grown < count * 8);
}

TEST_CASE("server RSS per idle WebSocket connection (upgraded, registered), next to a TCP one") {
  if (sanitized_build()) return;
  raise_fd_limit();
  constexpr int count = 2000;
  // Each on a server of its own, so neither reuses memory the other freed.
  const auto measure = [&](bool websocket) {
    ServerProcess server({"--max-clients", "100000", "--max-conns-per-ip", "0"});
    Client warm(server.address());
    warm.hello("warm");
    const long before = server.rss_kb();
    std::vector<Client> clients;
    clients.reserve(count);
    for (int i = 0; i < count; ++i) {
      const std::string nick = std::string(websocket ? "w" : "t") + std::to_string(i);
      if (websocket) {
        clients.push_back(upgraded(server.address()));
        std::string pending;
        clients.back().send_raw(masked_text(json({{"cmd", "hello"}, {"nick", nick}}).dump()));
        REQUIRE(json::parse(read_text_frame(clients.back().fd(), pending))["ok"] == true);
      } else {
        clients.emplace_back(server.address());
        clients.back().hello(nick);
      }
    }
    const double per = static_cast<double>(server.rss_kb() - before) * 1024.0 / count;
    MESSAGE(std::string(websocket ? "WebSocket" : "TCP") << ": " << per
                                                         << " bytes of server RSS per idle registered connection");
    return per;
  };
  const double tcp = measure(false);
  const double ws = measure(true);
  CHECK(ws < tcp + 1024);  // what a WebSocket costs beyond a TCP client
  CHECK(ws < 4096);
}

TEST_CASE("X-Forwarded-For names the client only from --trusted-proxy; --allowed-origin refuses other origins") {
  ServerProcess server({"--trusted-proxy", "127.0.0.1/32", "--allowed-origin", "https://chat.example.com"});
  const auto upgrade_with = [&](const std::string& headers) {
    Client c(server.address());
    std::string request = upgrade_request;
    request.insert(request.size() - 2, headers);
    c.send_raw(request);
    const std::string head = read_until(c.fd(), has_headers_end);
    return head.substr(0, head.find("\r\n"));
  };
  CHECK(upgrade_with("Origin: https://evil.example.com\r\n") == "HTTP/1.1 403 Forbidden");
  CHECK(upgrade_with("Origin: https://chat.example.com\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n") ==
        "HTTP/1.1 101 Switching Protocols");
  CHECK(server.wait_log("peer=203.0.113.7 connected through HTTP proxy 127.0.0.1:"));
  ServerProcess untrusting;
  Client c(untrusting.address());
  std::string request = upgrade_request;
  request.insert(request.size() - 2, "X-Forwarded-For: 203.0.113.7\r\n");
  c.send_raw(request);
  CHECK(read_until(c.fd(), has_headers_end).starts_with("HTTP/1.1 101 "));
  c.send_raw(masked_text(R"({"cmd":"hello","nick":"x"})"));
  std::string pending;
  CHECK(json::parse(read_text_frame(c.fd(), pending))["ok"] == true);
  CHECK(untrusting.log().find("203.0.113.7") == std::string::npos);
}

TEST_CASE("a client that sends pings and never reads costs bounded memory; others are served") {
  if (sanitized_build()) return;
  ServerProcess server;
  Client tcp(server.address());
  tcp.hello("tcp");
  // The pinger keeps its default receive buffer: shrunk below an MSS
  // (4 KiB against loopback's 64 KiB), the kernel once in a few hundred
  // runs missed the window update after the server had read everything,
  // and the pinger sat out its zero-window probe backoff (a minute and
  // more) with the server idle and its receive queue empty. 25 MB of pongs
  // still overflow the default buffers many times over.
  Client pinger = upgraded(server.address());
  const long before = server.rss_kb();
  // 200k masked pings of 125 bytes: 25 MB of pongs, had each been queued.
  std::string ping = "\x89";
  ping += static_cast<char>(0x80 | 125);
  ping.append(4, '\0');  // a zero mask: the payload as it is
  ping.append(125, 'p');
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += ping;
  // The server drops all but one unsent pong and goes on reading: every
  // ping is taken (26 MB, past what the sockets' buffers could hold), each
  // burst within 20 s of no progress (send_raw's default 5 s is tight for a
  // loaded CI machine running other tests beside this one).
  for (int i = 0; i < 100; ++i) pinger.send_raw(burst, 20000);
  for (int i = 0; i < 5; ++i) check_served(tcp);
  const long grown = server.rss_kb() - before;
  MESSAGE("RSS grew " << grown << " KiB for 200000 unread pongs");
  CHECK(grown < 8 * 1024);
}

TEST_CASE("a WebSocket slow consumer gets whole frames, then the error event slow_consumer and close 1008") {
  ServerProcess server({"--max-pending", "65536", "--rate", "0", "--ws-close-timeout", "1"});
  Client sleeper = upgraded(server.address());
  std::string pending;
  sleeper.send_raw(masked_text(R"({"cmd":"hello","nick":"sleeper"})"));
  REQUIRE(json::parse(read_text_frame(sleeper.fd(), pending))["ok"] == true);
  sleeper.send_raw(masked_text(R"({"cmd":"join","channel":"#flood"})"));
  REQUIRE(json::parse(read_text_frame(sleeper.fd(), pending))["ok"] == true);
  Client talker(server.address());
  talker.enter("talker", "#flood");
  // Odd-sized events, so the kernel's cut falls inside a frame. (No tiny receive
  // buffer: on loopback its zero window would never reopen for the rest.)
  const std::string text(3001, 'z');
  bool dropped = false;
  for (int batch = 0; batch < 500 && !dropped; ++batch) {
    std::string lines;
    for (int i = 0; i < 10; ++i) lines += R"({"cmd":"say","channel":"#flood","text":")" + text + "\"}\n";
    talker.send_raw(lines);
    for (int i = 0; i < 10; ++i) {
      const json line = talker.next(10000);
      if (line.value("event", "") == "quit") {
        CHECK(line["reason"] == "slow_consumer");
        dropped = true;
        --i;
      }
    }
  }
  REQUIRE(dropped);
  // Now it reads: every frame whole, the last text one the error event, then
  // the close frame, then nothing.
  std::string wire = pending + read_to_eof(sleeper.fd());
  std::size_t at = 0;
  std::string last_text;
  bool closed = false;
  int frames = 0;
  while (at < wire.size()) {
    REQUIRE_MESSAGE(!closed, "bytes after the close frame");
    REQUIRE(wire.size() - at >= 2);
    const auto op = static_cast<unsigned char>(wire[at]);
    std::size_t len = static_cast<unsigned char>(wire[at + 1]) & 0x7F;
    std::size_t head = 2;
    if (len == 126) {
      REQUIRE(wire.size() - at >= 4);
      len = (static_cast<std::size_t>(static_cast<unsigned char>(wire[at + 2])) << 8) |
            static_cast<unsigned char>(wire[at + 3]);
      head = 4;
    }
    REQUIRE_MESSAGE(wire.size() - at >= head + len, "a cut frame at byte " << at << " of " << wire.size() << " after " << frames << " frames; log: " << server.log());
    const std::string payload = wire.substr(at + head, len);
    if (op == 0x81) {
      CHECK(json::accept(payload));
      last_text = payload;
    } else {
      REQUIRE(op == 0x88);
      REQUIRE(payload.size() >= 2);
      CHECK(((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])) == 1008);
      closed = true;
    }
    at += head + len;
    ++frames;
  }
  MESSAGE(frames << " frames, " << wire.size() << " bytes after the drop");
  CHECK(closed);
  const json error = json::parse(last_text);
  CHECK(error["event"] == "error");
  CHECK(error["code"] == "slow_consumer");
}

// protocol.md: "the protocol's own ping event and idle_timeout apply as on
// TCP" — as text messages, then the close frame with the code as reason.
TEST_CASE("over WebSocket the protocol's ping event comes each interval, then idle_timeout and close 1008") {
  ServerProcess server({"--idle-timeout", "3", "--ping-interval", "1"});
  Client ws = upgraded(server.address());
  std::string pending;
  ws.send_raw(masked_text(R"({"cmd":"hello","nick":"quiet"})"));
  REQUIRE(json::parse(read_text_frame(ws.fd(), pending))["ok"] == true);
  int pings = 0;
  std::pair<int, std::string> frame;
  while ((frame = read_frame(ws.fd(), pending, 3000)).first == 0x81 && json::parse(frame.second)["event"] == "ping") ++pings;
  CHECK(pings >= 2);
  REQUIRE(frame.first == 0x81);
  const json error = json::parse(frame.second);
  CHECK(error["event"] == "error");
  CHECK(error["code"] == "idle_timeout");
  frame = read_frame(ws.fd(), pending);
  REQUIRE(frame.first == 0x88);
  CHECK(close_of(frame.second) == std::pair<int, std::string>{1008, "idle_timeout"});
}

// protocol.md: 1001 for shutting_down. A drain with no grace and no window
// (SIGINT): shutdown, then the fatal shutting_down, then close 1001.
TEST_CASE("over WebSocket a drain sends shutdown, then shutting_down and close 1001") {
  ServerProcess server;
  Client ws = upgraded(server.address());
  std::string pending;
  ws.send_raw(masked_text(R"({"cmd":"hello","nick":"leaving"})"));
  REQUIRE(json::parse(read_text_frame(ws.fd(), pending))["ok"] == true);
  REQUIRE(kill(server.pid(), SIGINT) == 0);
  const json shutdown = json::parse(read_text_frame(ws.fd(), pending));
  CHECK(shutdown["event"] == "shutdown");
  CHECK(shutdown["retry_ms"].is_number());
  const json error = json::parse(read_text_frame(ws.fd(), pending));
  CHECK(error["event"] == "error");
  CHECK(error["code"] == "shutting_down");
  const auto frame = read_frame(ws.fd(), pending);
  REQUIRE(frame.first == 0x88);
  CHECK(close_of(frame.second) == std::pair<int, std::string>{1001, "shutting_down"});
  CHECK(server.wait_exit(10000) == 0);
}

// --no-http: the chat port speaks only the line protocol. A `GET ` is then
// a line like any other (not JSON), and hello offers no "websocket".
TEST_CASE("--no-http: GET is a line of the protocol, and hello offers no websocket") {
  ServerProcess server({"--no-http"});
  Client c(server.address());
  c.send_raw("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.next_reply()["error"]["code"] == "bad_json");
  CHECK(c.next_reply()["error"]["code"] == "bad_json");
  const json hello = c.hello("plain");
  const json features = hello["server"]["features"];
  CHECK(std::find(features.begin(), features.end(), "websocket") == features.end());
  CHECK(std::find(features.begin(), features.end(), "resume") != features.end());
}
