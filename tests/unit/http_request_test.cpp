#include <cstddef>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "parley/admin/http_request.hpp"

using namespace parley;
using Status = HttpRequestReader::Status;

namespace {

// Feeds the whole request at once; it must be one complete request using every byte.
HttpRequest read_one(std::string_view text) {
  HttpRequestReader reader;
  const auto r = reader.feed(text);
  REQUIRE(r.status == Status::complete);
  CHECK(r.used == text.size());
  return reader.request();
}

// The status a request is refused with, fed at once.
int refused(std::string_view text, HttpRequestLimits limits = {}) {
  HttpRequestReader reader(limits);
  const auto r = reader.feed(text);
  CHECK(r.status == Status::error);
  return r.http_status;
}

}  // namespace

TEST_CASE("http: a GET, a HEAD, a query string kept in the target") {
  HttpRequest get = read_one("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(get.method == "GET");
  CHECK(get.target == "/healthz");
  CHECK(get.version_major == 1);
  CHECK(get.version_minor == 1);
  CHECK(get.keep_alive);

  HttpRequest head = read_one("HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.method == "HEAD");
  CHECK(head.target == "/metrics");

  CHECK(read_one("GET /connz?limit=10&offset=20 HTTP/1.1\r\n\r\n").target == "/connz?limit=10&offset=20");
}

TEST_CASE("http: keep-alive defaults: 1.1 yes, 1.0 no, Connection: close, 1.0 keep-alive") {
  CHECK(read_one("GET / HTTP/1.1\r\n\r\n").keep_alive);
  const HttpRequest old = read_one("GET / HTTP/1.0\r\n\r\n");
  CHECK(old.version_minor == 0);
  CHECK_FALSE(old.keep_alive);
  CHECK_FALSE(read_one("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  CHECK(read_one("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST_CASE("http: two pipelined requests in one feed") {
  const std::string first = "GET /healthz HTTP/1.1\r\n\r\n";
  const std::string second = "HEAD /readyz HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string both = first + second;
  HttpRequestReader reader;
  auto r = reader.feed(both);
  REQUIRE(r.status == Status::complete);
  CHECK(r.used == first.size());
  CHECK(reader.request().target == "/healthz");
  // Until reset, the same answer and nothing used.
  CHECK(reader.feed(std::string_view(both).substr(r.used)).used == 0);

  reader.reset();
  const auto rest = std::string_view(both).substr(r.used);
  r = reader.feed(rest);
  REQUIRE(r.status == Status::complete);
  CHECK(r.used == rest.size());
  CHECK(reader.request().method == "HEAD");
  CHECK(reader.request().target == "/readyz");
  CHECK_FALSE(reader.request().keep_alive);
}

TEST_CASE("http: a request split byte by byte") {
  const std::string text = "\r\nGET /connz?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8\r\n\r\n";
  HttpRequestReader reader;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const auto r = reader.feed(std::string_view(text).substr(i, 1));
    REQUIRE(r.status == Status::need_more);
    CHECK(r.used == 1);
  }
  const auto r = reader.feed(std::string_view(text).substr(text.size() - 1));
  REQUIRE(r.status == Status::complete);
  CHECK(r.used == 1);
  CHECK(reader.request().target == "/connz?x=1");
  CHECK(reader.request().keep_alive);
}

TEST_CASE("http: an empty feed needs more and uses nothing") {
  HttpRequestReader reader;
  CHECK(reader.feed("GET / HT").status == Status::need_more);
  const auto r = reader.feed("");
  CHECK(r.status == Status::need_more);
  CHECK(r.used == 0);
  CHECK(reader.feed("TP/1.1\r\n\r\n").status == Status::complete);
}

TEST_CASE("http: garbage and unknown methods are 400, POST is reported as POST") {
  CHECK(refused("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") == 400);  // a TLS ClientHello
  CHECK(refused("{\"cmd\":\"hello\"}\n") == 400);
  CHECK(refused("FROB / HTTP/1.1\r\n\r\n") == 400);
  CHECK(refused("GET / HTTP/1.1\r\nBad Header\r\n\r\n") == 400);
  CHECK(refused("PROXY TCP4 10.1.2.3 10.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n\r\n") == 400);

  const HttpRequest post = read_one("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.method == "POST");
  CHECK(post.target == "/healthz");
  CHECK(read_one("DELETE /connz HTTP/1.1\r\n\r\n").method == "DELETE");
}

TEST_CASE("http: 9 KiB of headers fed in small pieces are 431, and memory kept stays bounded") {
  std::string text = "GET /metrics HTTP/1.1\r\n";
  while (text.size() < 9 * 1024) text += "X-Filler: " + std::string(60, 'a') + "\r\n";
  text += "\r\n";
  HttpRequestReader reader;
  std::size_t fed = 0;
  HttpRequestReader::Result r;
  while (fed < text.size()) {
    r = reader.feed(std::string_view(text).substr(fed, 7));
    CHECK(reader.buffered_bytes() <= 8192);
    if (r.status != Status::need_more) break;
    fed += r.used;
  }
  REQUIRE(r.status == Status::error);
  CHECK(r.http_status == 431);
  CHECK(fed + r.used == 8192);  // refused on the byte that filled the budget

  // The same at once; and a slowloris of endless header lines.
  CHECK(refused(text) == 431);
  HttpRequestReader slow;
  std::size_t total = slow.feed("GET / HTTP/1.1\r\n").used;
  for (;;) {
    r = slow.feed("X: y\r\n");
    total += r.used;
    if (r.status != Status::need_more) break;
  }
  CHECK(r.http_status == 431);
  CHECK(total == 8192);
  CHECK(slow.buffered_bytes() == 1);  // the target "/", no header text

  // Headers of exactly the budget are fine.
  std::string exact = "GET / HTTP/1.1\r\nX: ";
  exact += std::string(8192 - exact.size() - 4, 'b') + "\r\n\r\n";
  REQUIRE(exact.size() == 8192);
  CHECK(read_one(exact).target == "/");
  CHECK(refused(exact, {.max_header_bytes = 8191, .max_target_bytes = 2048}) == 431);
}

TEST_CASE("http: a body announced is 413") {
  CHECK(refused("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") == 413);
  CHECK(refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") == 413);
  CHECK(read_one("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").target == "/");
}

TEST_CASE("http: versions other than 1.0 and 1.1 are 505") {
  CHECK(refused("GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(refused("GET / HTTP/1.2\r\n\r\n") == 505);
  CHECK(refused("GET / HTTP/0.9\r\n\r\n") == 505);
}

TEST_CASE("http: a target over the bound is 414, and never kept past it") {
  const std::string at_bound = "/" + std::string(2047, 'a');
  CHECK(read_one("GET " + at_bound + " HTTP/1.1\r\n\r\n").target == at_bound);
  const std::string text = "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n\r\n";
  CHECK(refused(text) == 414);

  HttpRequestReader reader;
  HttpRequestReader::Result r;
  for (std::size_t at = 0; at < text.size(); at += r.used) {
    r = reader.feed(std::string_view(text).substr(at, 100));
    CHECK(reader.buffered_bytes() <= 2048);
    if (r.status != Status::need_more) break;
  }
  CHECK(r.status == Status::error);
  CHECK(r.http_status == 414);
}

TEST_CASE("http: reset after an error reads a fresh request") {
  HttpRequestReader reader;
  CHECK(reader.feed("NOPE\r\n").http_status == 400);
  CHECK(reader.feed("GET / HTTP/1.1\r\n\r\n").status == Status::error);
  reader.reset();
  CHECK(reader.feed("GET /readyz HTTP/1.1\r\n\r\n").status == Status::complete);
  CHECK(reader.request().target == "/readyz");
}
