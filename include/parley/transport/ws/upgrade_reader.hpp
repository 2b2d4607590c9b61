// Reading the one HTTP request a chat connection that starts with `GET `
// makes (the page, or the WebSocket upgrade), with http-parser.
//
// Keeps the target and the few headers the handshake looks at, nothing
// else; every byte before the headers' end counts toward
// `max_header_bytes`, which bounds both a huge header and a slow one (the
// session adds a deadline). A repeated header's values are joined with
// ", ", as RFC 9110 allows. No libuv: the session feeds it.
//
//   need_more  every byte of `data` was used; feed the next ones.
//   complete   request() holds the request; `used` bytes were its own, the
//              rest already belongs to the WebSocket (a client may send
//              frames before the 101 arrives).
//   error      answer `http_status` and close: 400 malformed (a body
//              included), 431 headers past max_header_bytes, 505 not HTTP/1.x.
// After complete or error, feed() uses nothing and says the same again.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct http_parser;

namespace parley::ws {

struct UpgradeRequest {
  std::string target;  // path and query as sent
  unsigned version_major = 0;
  unsigned version_minor = 0;
  // The headers the handshake reads ("" when absent).
  std::string host;
  std::string upgrade;
  std::string connection;
  std::string key;        // Sec-WebSocket-Key
  std::string version;    // Sec-WebSocket-Version
  std::string protocols;  // Sec-WebSocket-Protocol: the subprotocols offered
  std::string origin;
  std::string forwarded_for;  // X-Forwarded-For
};

class UpgradeReader {
 public:
  enum class Status { need_more, complete, error };
  struct Result {
    Status status = Status::need_more;
    std::size_t used = 0;
    int http_status = 0;  // error only
  };

  explicit UpgradeReader(std::size_t max_header_bytes = 8192);
  ~UpgradeReader();
  UpgradeReader(const UpgradeReader&) = delete;
  UpgradeReader& operator=(const UpgradeReader&) = delete;

  Result feed(std::string_view data);
  const UpgradeRequest& request() const { return request_; }
  // Bytes fed so far before the headers' end (never past the bound).
  std::size_t header_bytes() const { return header_bytes_; }

 private:
  friend struct UpgradeCallbacks;

  std::size_t max_header_bytes_;
  std::unique_ptr<http_parser> parser_;
  UpgradeRequest request_;
  std::string field_;             // the header name being read (lowercase)
  std::string* value_ = nullptr;  // where its value goes; nullptr: a header nobody reads
  bool in_value_ = false;
  std::size_t header_bytes_ = 0;
  Result done_;  // need_more until the request is complete or refused
};

}  // namespace parley::ws
