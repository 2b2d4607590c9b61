// The admin HTTP listener of the real parleyd (--admin 127.0.0.1:0), over
// real sockets: every endpoint, keep-alive and pipelining, the bounds (bad
// HTTP, huge headers, a client trickling bytes, too many connections), and
// that none of it stalls the chat.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

struct Response {
  int status = 0;
  std::string headers;  // as sent, status line included
  std::string body;
  bool closed = false;  // the server closed the connection after it
};

// Raw HTTP over one connection: what is sent is exactly what the test wrote.
class Http {
 public:
  explicit Http(const std::string& address) : fd_(connect_socket(address)) { REQUIRE(fd_ >= 0); }
  ~Http() {
    if (fd_ >= 0) ::close(fd_);
  }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // One response (headers, then Content-Length bytes of body unless `head`).
  Response read(bool head = false, int timeout_ms = 5000) {
    Response r;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) {
        r.closed = true;
        return r;
      }
    }
    r.headers = buffer_.substr(0, header_end + 2);
    buffer_.erase(0, header_end + 4);
    r.status = std::stoi(r.headers.substr(9, 3));
    std::size_t length = 0;
    if (const std::size_t at = r.headers.find("Content-Length: "); at != std::string::npos)
      length = std::stoul(r.headers.substr(at + 16));
    if (!head) {
      while (buffer_.size() < length) REQUIRE(fill(deadline));
      r.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    }
    if (r.headers.find("Connection: close") != std::string::npos) r.closed = at_eof(deadline);
    return r;
  }

  // True when the server closes the connection within the timeout.
  bool wait_closed(int timeout_ms = 5000) {
    return at_eof(Clock::now() + std::chrono::milliseconds(timeout_ms));
  }

 private:
  // One read into buffer_: 1 when bytes came, 0 at EOF, -1 when nothing came in time.
  int read_some(Clock::time_point deadline) {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return -1;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return 0;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return 1;
  }

  bool fill(Clock::time_point deadline) { return read_some(deadline) == 1; }

  bool at_eof(Clock::time_point deadline) {
    for (;;)
      if (const int got = read_some(deadline); got <= 0) return got == 0;
  }

  int fd_;
  std::string buffer_;
};

Response get(const std::string& address, const std::string& target) {
  Http http(address);
  http.send("GET " + target + " HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n");
  return http.read();
}

// A chat round trip, to show the chat is not stalled.
void chat_answers(const ServerProcess& server) {
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}

}  // namespace

TEST_CASE("admin: /healthz, /readyz and unknown paths") {
  ServerProcess server({"--admin", "127.0.0.1:0"});
  const std::string admin = server.admin_address();
  Response health = get(admin, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK(health.closed);
  Response ready = get(admin, "/readyz");
  CHECK(ready.status == 200);
  CHECK(get(admin, "/nope").status == 404);
}

TEST_CASE("admin: /readyz says 503 full at --max-clients, and ready again when a client leaves") {
  ServerProcess server({"--admin", "127.0.0.1:0", "--max-clients", "1"});
  const std::string admin = server.admin_address();
  {
    Client only(server.address());
    only.hello("only");
    Response full = get(admin, "/readyz");
    CHECK(full.status == 503);
    CHECK(full.body == "not ready: full\n");
  }
  // The slot frees once the server has read the client's EOF, which no
  // event here tells: /readyz is polled.
  int status = 0;
  CHECK(poll_until([&] { return (status = get(admin, "/readyz").status) == 200; }, 5000));
  CHECK(status == 200);
}

TEST_CASE("admin: /readyz is 503 draining while a drain waits on a client, and the admin listener stays up") {
  ServerProcess server({"--admin", "127.0.0.1:0", "--max-pending", "67108864", "--drain-timeout", "10", "--rate", "0"});
  const std::string admin = server.admin_address();
  Client slow(server.address()), loud(server.address());
  queue_unread(slow, loud, "#room");
  REQUIRE(::kill(server.pid(), SIGTERM) == 0);
  // The drain cannot finish while `slow` reads nothing; /readyz says so
  // once the server has taken the signal, which no event here tells.
  Response draining;
  CHECK(poll_until([&] { return (draining = get(admin, "/readyz")).status != 200; }, 5000));
  CHECK(draining.status == 503);
  CHECK(draining.body == "not ready: draining\n");
  CHECK(get(admin, "/healthz").status == 200);
  slow.reset();
  CHECK(server.wait_exit(15000) == 0);
}

TEST_CASE("admin: /metrics in Prometheus text format moves with the traffic") {
  ServerProcess server({"--admin", "127.0.0.1:0"});
  const std::string admin = server.admin_address();
  Response before = get(admin, "/metrics");
  REQUIRE(before.status == 200);
  CHECK(before.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(before.body.find("# TYPE parley_deliveries_total counter") != std::string::npos);
  CHECK(before.body.find("parley_build_info{version=\"") != std::string::npos);
  CHECK(before.body.find("process_resident_memory_bytes ") != std::string::npos);
  CHECK(before.body.find("parley_deliveries_total 0\n") != std::string::npos);
  Client a(server.address()), b(server.address());
  a.enter("a", "#m");
  b.enter("b", "#m");
  a.call({{"cmd", "say"}, {"channel", "#m"}, {"text", "hi"}});
  b.wait_event("message");
  Response after = get(admin, "/metrics");
  // b's join reached a, a's message reached b.
  CHECK(after.body.find("parley_deliveries_total 2\n") != std::string::npos);
  CHECK(after.body.find("parley_requests_total{command=\"say\",result=\"ok\"} 1\n") != std::string::npos);
  CHECK(after.body.find("parley_connections_open{transport=\"tcp\"} 2\n") != std::string::npos);
  CHECK(after.body.find("parley_users 2\n") != std::string::npos);
  CHECK(after.body.find("parley_channels 1\n") != std::string::npos);

  // promtool, from Debian's prometheus package, must find nothing to fault.
  const std::string path = temp_path("metrics.txt");
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fwrite(after.body.data(), 1, after.body.size(), f);
    std::fclose(f);
  }
  ChildProcess promtool({"sh", "-c", "promtool check metrics < " + path}, "");
  CHECK(promtool.wait(30000) == 0);
  INFO(promtool.output());
  CHECK(promtool.output().find("parley") == std::string::npos);  // no lint complaint names a metric
  ::unlink(path.c_str());
}

TEST_CASE("admin: /connz lists every connection sorted by id, paged, with what each did") {
  ServerProcess server({"--admin", "127.0.0.1:0"});
  const std::string admin = server.admin_address();
  Client a(server.address()), b(server.address()), c(server.address());
  a.enter("ann", "#x");
  b.hello("bob");
  c.read_line(50);
  Response all = get(admin, "/connz");
  REQUIRE(all.status == 200);
  CHECK(all.headers.find("Content-Type: application/json") != std::string::npos);
  const nlohmann::json page = nlohmann::json::parse(all.body);
  CHECK(page["total"] == 3);
  REQUIRE(page["connections"].size() == 3);
  const nlohmann::json& first = page["connections"][0];
  CHECK(first["nick"] == "ann");
  CHECK(first["channels"] == nlohmann::json::array({"#x"}));
  CHECK(first["transport"] == "tcp");
  CHECK(first["lines_in"] == 2);
  CHECK(first["lines_out"] == 2);
  CHECK(first["bytes_in"].get<int>() > 0);
  CHECK(first["state"] == "open");
  CHECK(page["connections"][1]["nick"] == "bob");
  CHECK(page["connections"][2]["nick"].is_null());
  CHECK(page["connections"][0]["id"].get<long>() < page["connections"][1]["id"].get<long>());

  const nlohmann::json second = nlohmann::json::parse(get(admin, "/connz?limit=1&offset=1").body);
  CHECK(second["total"] == 3);
  REQUIRE(second["connections"].size() == 1);
  CHECK(second["connections"][0]["nick"] == "bob");
  CHECK(nlohmann::json::parse(get(admin, "/connz?offset=9").body)["connections"].empty());
  CHECK(get(admin, "/connz?limit=0").status == 400);
  CHECK(get(admin, "/connz?limit=abc").status == 400);
  CHECK(get(admin, "/connz?limit=100000").status == 400);
}

TEST_CASE("admin: keep-alive, pipelining, HEAD and methods other than GET") {
  ServerProcess server({"--admin", "127.0.0.1:0"});
  Http http(server.admin_address());
  http.send("GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n");
  Response one = http.read();
  CHECK(one.status == 200);
  CHECK(one.headers.find("Connection: keep-alive") != std::string::npos);
  http.send("GET /readyz HTTP/1.1\r\nHost: p\r\n\r\nHEAD /healthz HTTP/1.1\r\nHost: p\r\n\r\n");
  CHECK(http.read().status == 200);
  Response head = http.read(true);
  CHECK(head.status == 200);
  CHECK(head.headers.find("Content-Length: 3") != std::string::npos);
  // Many pipelined in one write: answered in order, a few per loop turn.
  std::string many;
  for (int i = 0; i < 50; ++i) many += (i % 2 ? "GET /readyz" : "GET /healthz") + std::string(" HTTP/1.1\r\nHost: p\r\n\r\n");
  http.send(many);
  for (int i = 0; i < 50; ++i) {
    Response r = http.read();
    REQUIRE(r.status == 200);
    CHECK(r.body == (i % 2 ? "ready\n" : "ok\n"));
  }
  http.send("POST /healthz HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n");
  Response post = http.read();
  CHECK(post.status == 405);
  CHECK(post.headers.find("Allow: GET, HEAD") != std::string::npos);
  http.send("GET /healthz HTTP/1.0\r\n\r\n");  // 1.0 without keep-alive: closed after
  Response old = http.read();
  CHECK(old.status == 200);
  CHECK(old.closed);
}

TEST_CASE("admin: bad HTTP is refused, bounded, and never stalls the chat") {
  ServerProcess server({"--admin", "127.0.0.1:0", "--admin-timeout", "1"});
  const std::string admin = server.admin_address();
  {
    Http garbage(admin);
    garbage.send("\x01\x02 not http at all\r\n\r\n");
    Response r = garbage.read();
    CHECK(r.status == 400);
    CHECK(garbage.wait_closed());
  }
  {
    Http huge(admin);
    huge.send("GET /healthz HTTP/1.1\r\nX-Fill: " + std::string(9000, 'a') + "\r\n\r\n");
    CHECK(huge.read().status == 431);
    CHECK(huge.wait_closed());
  }
  {
    // The body stays unread; the answer must still arrive whole, before the close.
    Http body(admin);
    body.send("GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + std::string(100000, 'z'));
    CHECK(body.read().status == 413);
    CHECK(body.wait_closed());
  }
  {
    // A client trickling one request byte by byte is cut at --admin-timeout,
    // and the chat answers all the while.
    Http slow(admin);
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: p\r\n";
    const auto start = Clock::now();
    bool cut = false;
    for (char ch : request) {
      slow.send(std::string(1, ch));
      chat_answers(server);
      if (slow.wait_closed(100)) {
        cut = true;
        break;
      }
    }
    if (!cut) cut = slow.wait_closed(3000);
    CHECK(cut);
    CHECK(Clock::now() - start < std::chrono::seconds(5));
  }
  chat_answers(server);
}

TEST_CASE("admin: connections past --admin-max-conns are closed at accept; the others are served") {
  ServerProcess server({"--admin", "127.0.0.1:0", "--admin-max-conns", "2"});
  const std::string admin = server.admin_address();
  Http one(admin), two(admin);
  one.send("GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n");
  CHECK(one.read().status == 200);
  two.send("GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n");
  CHECK(two.read().status == 200);
  Http three(admin);
  CHECK(three.wait_closed());
  one.send("GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n");
  CHECK(one.read().status == 200);
  chat_answers(server);
}
