// The request parser and the encoder on arbitrary lines. The parser must
// never crash and must answer every line with a command or a contract
// error code; its fast path must agree with the full parser whenever it
// accepts a line; and the encoder must write exactly what nlohmann's dump
// writes for any document the line happens to be.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parley/protocol/encode.hpp"
#include "parley/protocol/request.hpp"
#include "parley/protocol/request_fields.hpp"

using namespace parley;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool is_reply_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_json: case ErrorCode::bad_request: case ErrorCode::unknown_command:
    case ErrorCode::invalid_nick: case ErrorCode::invalid_channel: case ErrorCode::text_too_long:
      return true;
    default:
      return false;  // the parser alone can produce nothing else
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_text = 64;
  const Request request = parse_request(line, limits);
  if (const Error* error = std::get_if<Error>(&request.body)) require(is_reply_code(error->code));

  Fields fast;
  if (read_flat_object(line, fast)) {
    Fields full;  // a byte-order mark keeps the fast path out; the full parser skips it
    require(read_fields("\xEF\xBB\xBF" + std::string(line), full) == FieldsResult::object);
    require(fast.all() == full.all());
  }

  const Json document = Json::parse(line, nullptr, false);
  if (!document.is_discarded()) {
    std::string encoded;
    append_line(encoded, document);
    require(encoded == document.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
  }
  return 0;
}
