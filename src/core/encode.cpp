#include "parley/encode.hpp"

namespace parley {

Bytes encode_line(const Json& message) {
  std::string text;
  append_line(text, message);
  return std::make_shared<const std::string>(std::move(text));
}

void append_line(std::string& out, const Json& message) {
  if (out.empty()) {
    out = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    out += message.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  out.push_back('\n');
}

Bytes encode_fatal(ErrorCode code, std::string_view message) {
  Json e = Json::object();
  e["event"] = "error";
  e["code"] = to_string(code);
  e["message"] = message;
  return encode_line(e);
}

Bytes encode_ping() {
  static const Bytes ping = encode_line(Json{{"event", "ping"}});
  return ping;
}

Bytes encode_shutdown(std::string_view reason, long long retry_ms) {
  Json e = Json::object();
  e["event"] = "shutdown";
  e["reason"] = reason;
  e["retry_ms"] = retry_ms;
  return encode_line(e);
}

}  // namespace parley
