// Reading HTTP/1.1 requests for the admin listener, with http-parser.
//
// The reader takes a connection's bytes as they arrive and reports one
// request at a time: GET and HEAD (other methods are reported too, and the
// caller answers 405), no bodies, no stored headers (only `Connection`
// matters, and http-parser reads it for `keep_alive`). No libuv: the
// listener's session feeds it and answers.
//
//   need_more  every byte of `data` was used; feed the next ones.
//   complete   request() holds the request; `used` bytes of `data` were
//              hers, the rest belongs to the next (pipelined) request: answer,
//              reset(), and feed the rest again.
//   error      answer `http_status` and close: 400 malformed (unknown method
//              tokens included), 413 a body announced (Content-Length > 0 or
//              chunked), 414 a target over max_target_bytes, 431 more than
//              max_header_bytes before the headers' end, 505 a version other
//              than 1.0 and 1.1.
//
// The bytes counted toward max_header_bytes are those fed before the end of
// the headers (the request line, the headers, and empty lines before them),
// which bounds both a slowloris and a huge header; the only text kept is the
// target, at most max_target_bytes. After complete or error, feed() returns
// the same answer (using nothing) until reset().
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct http_parser;

namespace parley {

struct HttpRequestLimits {
  std::size_t max_header_bytes = 8192;  // request line + headers
  std::size_t max_target_bytes = 2048;  // path and query
};

struct HttpRequest {
  std::string_view method;  // "GET", "HEAD", "POST", …: http-parser's static text
  std::string target;       // path and query as sent
  unsigned version_major = 0;
  unsigned version_minor = 0;
  bool keep_alive = false;  // http_should_keep_alive: 1.1 unless `Connection: close`, 1.0 only with keep-alive
};

class HttpRequestReader {
 public:
  enum class Status { need_more, complete, error };
  struct Result {
    Status status = Status::need_more;
    std::size_t used = 0;  // bytes of the fed data that were read
    int http_status = 0;   // error only: the status to answer before closing
  };

  explicit HttpRequestReader(HttpRequestLimits limits = {});
  ~HttpRequestReader();
  HttpRequestReader(HttpRequestReader&&) noexcept;
  HttpRequestReader& operator=(HttpRequestReader&&) noexcept;

  Result feed(std::string_view data);
  // The request, once feed() returned complete.
  const HttpRequest& request() const { return request_; }
  // Readies the reader for the next request on the same connection.
  void reset();
  // Text kept between feeds (the target so far): never over max_target_bytes.
  std::size_t buffered_bytes() const { return request_.target.size(); }

 private:
  friend struct HttpCallbacks;

  HttpRequestLimits limits_;
  std::unique_ptr<http_parser> parser_;
  HttpRequest request_;
  std::size_t header_bytes_ = 0;  // fed before the headers' end
  Status done_ = Status::need_more;
  int http_status_ = 0;  // set by a callback that refuses, or on error
};

}  // namespace parley
