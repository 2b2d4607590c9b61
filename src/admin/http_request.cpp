#include "parley/admin/http_request.hpp"

#include <http_parser.h>

#include <algorithm>

namespace parley {

// http-parser's callbacks, with access to the reader. A callback that returns
// nonzero (-1 from on_headers_complete: 1 there would mean "no body") stops
// the parser with an HPE_CB_* error; the reader's http_status_ says why.
struct HttpCallbacks {
  static HttpRequestReader& reader(http_parser* p) { return *static_cast<HttpRequestReader*>(p->data); }

  static int on_url(http_parser* p, const char* at, std::size_t length) {
    HttpRequestReader& r = reader(p);
    if (length > r.limits_.max_target_bytes - r.request_.target.size()) {
      r.http_status_ = 414;
      return 1;
    }
    r.request_.target.append(at, length);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    HttpRequestReader& r = reader(p);
    if (p->http_major != 1 || p->http_minor > 1) {
      r.http_status_ = 505;
      return -1;
    }
    if ((p->flags & F_CHUNKED) != 0 || ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > 0)) {
      r.http_status_ = 413;
      return -1;
    }
    r.request_.method = http_method_str(static_cast<http_method>(p->method));
    r.request_.version_major = p->http_major;
    r.request_.version_minor = p->http_minor;
    r.request_.keep_alive = http_should_keep_alive(p) != 0;
    return 0;
  }

  // Stops the parser right after this request: what follows is the next one's.
  static int on_message_complete(http_parser* p) {
    http_parser_pause(p, 1);
    return 0;
  }

  static http_parser_settings make() {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_headers_complete = on_headers_complete;
    s.on_message_complete = on_message_complete;
    return s;
  }
};

namespace {

const http_parser_settings settings = HttpCallbacks::make();

}  // namespace

HttpRequestReader::HttpRequestReader(HttpRequestLimits limits)
    : limits_(limits), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
}

HttpRequestReader::~HttpRequestReader() = default;
HttpRequestReader::HttpRequestReader(HttpRequestReader&&) noexcept = default;
HttpRequestReader& HttpRequestReader::operator=(HttpRequestReader&&) noexcept = default;

void HttpRequestReader::reset() {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  request_ = HttpRequest{};
  header_bytes_ = 0;
  done_ = Status::need_more;
  http_status_ = 0;
}

HttpRequestReader::Result HttpRequestReader::feed(std::string_view data) {
  if (done_ != Status::need_more) return {done_, 0, http_status_};
  // Zero bytes would tell http-parser the stream ended.
  if (data.empty()) return {};
  // Never more than the header budget left: the headers' end must come
  // within it, and a request without a body ends with its headers.
  const std::size_t budget = limits_.max_header_bytes - header_bytes_;
  const std::size_t slice = std::min(data.size(), budget);
  parser_->data = this;
  const std::size_t used = http_parser_execute(parser_.get(), &settings, data.data(), slice);
  const auto error = HTTP_PARSER_ERRNO(parser_.get());
  if (error == HPE_PAUSED) {
    done_ = Status::complete;
    return {done_, used, 0};
  }
  if (error != HPE_OK) {
    done_ = Status::error;
    if (http_status_ == 0) http_status_ = error == HPE_HEADER_OVERFLOW ? 431 : 400;
    return {done_, used, http_status_};
  }
  header_bytes_ += used;
  if (header_bytes_ >= limits_.max_header_bytes) {
    done_ = Status::error;
    http_status_ = 431;
    return {done_, used, http_status_};
  }
  return {Status::need_more, used, 0};
}

}  // namespace parley
