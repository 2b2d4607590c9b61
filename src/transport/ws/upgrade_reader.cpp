#include "parley/transport/ws/upgrade_reader.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cctype>

namespace parley::ws {

// http-parser calls these with pieces of the request as they arrive; a
// name or a value may come in several pieces when it spans two feeds.
struct UpgradeCallbacks {
  static UpgradeReader& of(http_parser* p) { return *static_cast<UpgradeReader*>(p->data); }

  static std::string* slot(UpgradeRequest& r, std::string_view name) {
    if (name == "host") return &r.host;
    if (name == "upgrade") return &r.upgrade;
    if (name == "connection") return &r.connection;
    if (name == "sec-websocket-key") return &r.key;
    if (name == "sec-websocket-version") return &r.version;
    if (name == "sec-websocket-protocol") return &r.protocols;
    if (name == "origin") return &r.origin;
    if (name == "x-forwarded-for") return &r.forwarded_for;
    return nullptr;
  }

  static int on_url(http_parser* p, const char* at, std::size_t length) {
    of(p).request_.target.append(at, length);
    return 0;
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t length) {
    UpgradeReader& r = of(p);
    if (r.in_value_) {
      r.in_value_ = false;
      r.field_.clear();
    }
    // Names past the longest one read cannot be wanted: keep no more of them.
    for (std::size_t i = 0; i < length && r.field_.size() <= 32; ++i)
      r.field_ += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t length) {
    UpgradeReader& r = of(p);
    if (!r.in_value_) {
      r.in_value_ = true;
      r.value_ = slot(r.request_, r.field_);
      if (r.value_ && !r.value_->empty()) *r.value_ += ", ";
    }
    if (r.value_) r.value_->append(at, length);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    UpgradeReader& r = of(p);
    r.request_.version_major = p->http_major;
    r.request_.version_minor = p->http_minor;
    if (p->http_major != 1) r.done_ = {UpgradeReader::Status::error, 0, 505};
    const bool body = (p->flags & F_CHUNKED) != 0 || ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > 0);
    if (body) r.done_ = {UpgradeReader::Status::error, 0, 400};
    return r.done_.status == UpgradeReader::Status::error ? -1 : 0;
  }

  // The request ends with its headers: stop here, what follows is the WebSocket's.
  static int on_message_complete(http_parser* p) {
    http_parser_pause(p, 1);
    return 0;
  }

  static http_parser_settings make() {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_message_complete = on_message_complete;
    return s;
  }
};

namespace {

const http_parser_settings upgrade_settings = UpgradeCallbacks::make();

}  // namespace

UpgradeReader::UpgradeReader(std::size_t max_header_bytes)
    : max_header_bytes_(max_header_bytes), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

UpgradeReader::~UpgradeReader() = default;

UpgradeReader::Result UpgradeReader::feed(std::string_view data) {
  if (done_.status != Status::need_more) return {done_.status, 0, done_.http_status};
  if (data.empty()) return {};  // zero bytes would tell http-parser the stream ended
  // The headers' end must come within the budget: never hand over more.
  const std::size_t room = max_header_bytes_ - header_bytes_;
  const std::size_t offered = std::min(data.size(), room);
  const std::size_t used = http_parser_execute(parser_.get(), &upgrade_settings, data.data(), offered);
  switch (HTTP_PARSER_ERRNO(parser_.get())) {
    case HPE_PAUSED:
      done_ = {Status::complete, used, 0};
      return done_;
    case HPE_OK:
      header_bytes_ += used;
      if (header_bytes_ < max_header_bytes_) return {Status::need_more, used, 0};
      done_ = {Status::error, used, 431};
      return done_;
    case HPE_HEADER_OVERFLOW:
      done_ = {Status::error, used, 431};
      return done_;
    default:  // malformed, or a callback refused (done_ says why)
      if (done_.status != Status::error) done_ = {Status::error, used, 400};
      done_.used = used;
      return done_;
  }
}

}  // namespace parley::ws
