// One HTTP response of the admin listener, before it is written.
#pragma once

#include <string>
#include <string_view>

namespace parley {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // whole lines, each ending in CRLF ("Allow: GET, HEAD\r\n")
};

// "OK", "Not Found", ... for the statuses the admin listener answers.
std::string_view reason_phrase(int status);

// Status line, headers and (unless `head_only`) the body. `keep_alive`
// decides the Connection header.
std::string serialize(const HttpResponse& response, bool head_only, bool keep_alive);

}  // namespace parley
