// The request parser and the encoder on arbitrary lines. The parser must
// never crash and must answer every line with a command or a contract
// error code; its fast path must agree with the full parser whenever it
// accepts a line; and the string writer every reply and event goes through
// must write exactly what nlohmann's dump writes, for the line's bytes as
// one string (any bytes: invalid UTF-8 included) and for every string
// value the parser read out of it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parley/protocol/encode.hpp"
#include "parley/protocol/request.hpp"
#include "parley/protocol/request_fields.hpp"
#include "wire.hpp"

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

  auto same_as_library = [](std::string_view s) {
    std::string ours;
    append_json_string(ours, s);
    require(ours + "\n" == parley::test::dumped(parley::test::Json(std::string(s))));
  };
  same_as_library(line);
  Fields fields;
  if (read_fields(line, fields) == FieldsResult::object)
    for (const Field& f : fields.all()) {
      same_as_library(f.key);
      if (const auto* text = std::get_if<std::string>(&f.value)) same_as_library(*text);
    }
  return 0;
}
