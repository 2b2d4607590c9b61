// The admin HTTP request reader on arbitrary bytes in arbitrary chunks (the
// first byte picks the chunk size, the second the limits). Every feed ends in
// need-more (every byte used), a complete request (HTTP/1.0 or 1.1, a target
// within its bound) or an error status from the documented set; bytes used
// never exceed bytes given, and the text kept stays within the target bound.
// The same bytes fed at once must give the same requests and the same end:
// where a request ends never depends on how its bytes arrived. (One leeway:
// http-parser hands over the target lazily, at the end of each chunk or of
// the target, so a bad byte after an overlong target is 414 when the target
// came first in a chunk of its own and 400 when both came together.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parley/admin/http_request.hpp"

using parley::HttpRequestLimits;
using parley::HttpRequestReader;
using Status = HttpRequestReader::Status;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Seen {
  std::string method, target;
  unsigned minor = 0;
  bool keep_alive = false;
  std::size_t length = 0;  // bytes of the request, from where the previous one ended
  bool operator==(const Seen&) const = default;
};

struct Run {
  std::vector<Seen> requests;
  int error = 0;  // 0: the input ended needing more
  bool operator==(const Run&) const = default;
};

Run read_all(std::string_view input, std::size_t chunk, HttpRequestLimits limits) {
  HttpRequestReader reader(limits);
  Run run;
  std::size_t at = 0, start = 0;
  while (at < input.size()) {
    const std::string_view piece = input.substr(at, chunk);
    const HttpRequestReader::Result r = reader.feed(piece);
    require(r.used <= piece.size());
    require(reader.buffered_bytes() <= limits.max_target_bytes);
    at += r.used;
    if (r.status == Status::need_more) {
      require(r.used == piece.size() && r.http_status == 0);
      continue;
    }
    if (r.status == Status::error) {
      require(r.http_status == 400 || r.http_status == 413 || r.http_status == 414 ||
              r.http_status == 431 || r.http_status == 505);
      run.error = r.http_status;
      return run;
    }
    require(r.status == Status::complete && r.used > 0 && r.http_status == 0);
    const parley::HttpRequest& q = reader.request();
    require(q.version_major == 1 && q.version_minor <= 1);
    require(!q.method.empty() && q.target.size() <= limits.max_target_bytes);
    require(at - start <= limits.max_header_bytes);
    run.requests.push_back({std::string(q.method), q.target, q.version_minor, q.keep_alive, at - start});
    start = at;
    reader.reset();
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  HttpRequestLimits limits;
  limits.max_header_bytes = 64 + std::size_t{data[1]} * 8;  // 64 .. 2104
  limits.max_target_bytes = limits.max_header_bytes / 4;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Run pieces = read_all(input, chunk, limits);
  const Run whole = read_all(input, input.size() + 1, limits);
  require(pieces.requests == whole.requests);
  require(pieces.error == whole.error ||
          (pieces.error == 414 && whole.error == 400) || (pieces.error == 400 && whole.error == 414));
  return 0;
}
