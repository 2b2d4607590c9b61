#include "parley/protocol/request.hpp"

#include <variant>

#include "parley/chat/names.hpp"
#include "parley/protocol/request_fields.hpp"

namespace parley {
namespace {

constexpr unsigned history_limit_min = 1;
// An unknown command's name is echoed in the error up to this many bytes.
constexpr std::size_t max_echoed_command = 64;

CommandKind command_kind(std::string_view name) {
  for (std::size_t k = 1; k < command_kind_count; ++k)  // 0 is `unknown`
    if (command_name(static_cast<CommandKind>(k)) == name) return static_cast<CommandKind>(k);
  return CommandKind::unknown;
}

// Reads typed fields out of a request object. The first problem found is kept
// in `error`; later reads then return empty values and are ignored.
class FieldReader {
 public:
  // Takes strings out of `fields` (each field is read once).
  FieldReader(Fields& fields, const Limits& limits) : fields_(fields), limits_(limits) {}

  std::optional<Error> error;

  std::optional<std::string> optional_string(const char* field) {
    FieldValue* value = fields_.find(field);
    if (!value) return std::nullopt;
    std::string* text = std::get_if<std::string>(value);
    if (!text) {
      fail(ErrorCode::bad_request, std::string("field '") + field + "' must be a string");
      return std::nullopt;
    }
    return std::move(*text);
  }

  std::string required_string(const char* field) {
    if (!find(field)) fail(ErrorCode::bad_request, std::string("missing field '") + field + "'");
    return optional_string(field).value_or(std::string());
  }

  std::string nick(const char* field) {
    std::string value = required_string(field);
    if (!error && !is_valid_nick(value)) {
      static const std::string message = "a nick is 1-" + std::to_string(max_nick_length) +
                                         " of A-Z a-z 0-9 _ -, not starting with a digit or '-'";
      fail(ErrorCode::invalid_nick, message);
    }
    return value;
  }

  std::string channel(const char* field) {
    std::string value = required_string(field);
    if (!error && !is_valid_channel(value)) {
      static const std::string message =
          "a channel name is 1-" + std::to_string(max_channel_length) + " of A-Z a-z 0-9 _ - . #";
      fail(ErrorCode::invalid_channel, message);
    }
    return value;
  }

  // A bounded string; `allow_empty` is false for message texts.
  std::optional<std::string> bounded_text(const char* field, bool allow_empty) {
    std::optional<std::string> value = optional_string(field);
    if (!value) return value;
    if (!allow_empty && value->empty())
      fail(ErrorCode::bad_request, std::string("field '") + field + "' must not be empty");
    else if (value->size() > limits_.max_text)
      fail(ErrorCode::text_too_long, std::string("field '") + field + "' is longer than " +
                                         std::to_string(limits_.max_text) + " bytes");
    return value;
  }

  std::string text(const char* field) {
    if (!find(field)) fail(ErrorCode::bad_request, std::string("missing field '") + field + "'");
    return bounded_text(field, false).value_or(std::string());
  }

  std::optional<std::uint64_t> optional_count(const char* field) {
    const FieldValue* value = find(field);
    if (!value) return std::nullopt;
    if (const auto* count = std::get_if<std::uint64_t>(value)) return *count;
    fail(ErrorCode::bad_request, std::string("field '") + field + "' must be an integer >= 0");
    return std::nullopt;
  }

 private:
  const FieldValue* find(const char* field) const { return fields_.find(field); }

  void fail(ErrorCode code, std::string message) {
    if (!error) error = Error{code, std::move(message)};
  }

  Fields& fields_;
  const Limits& limits_;
};

std::optional<Error> read_id(const Fields& fields, RequestId& id) {
  const FieldValue* value = fields.find("id");
  if (!value) return std::nullopt;
  if (const auto* text = std::get_if<std::string>(value)) {
    if (text->size() > max_id_bytes)
      return Error{ErrorCode::bad_request, "'id' is longer than " + std::to_string(max_id_bytes) + " bytes"};
    id.text = *text;
    id.kind = RequestId::Kind::string;
  } else if (const auto* u = std::get_if<std::uint64_t>(value)) {
    id.kind = RequestId::Kind::unsigned_integer;
    id.unsigned_integer = *u;
  } else if (const auto* i = std::get_if<std::int64_t>(value)) {
    id.kind = RequestId::Kind::integer;
    id.integer = *i;
  } else {
    return Error{ErrorCode::bad_request, "'id' must be a string or an integer"};
  }
  return std::nullopt;
}

Command read_command(CommandKind kind, FieldReader& in) {
  switch (kind) {
    case CommandKind::hello: {
      Hello c;
      c.nick = in.nick("nick");
      c.token = in.optional_string("token");
      c.resume = in.optional_string("resume");
      return c;
    }
    case CommandKind::nick: return NickCmd{in.nick("nick")};
    case CommandKind::join: {
      Join c{in.channel("channel")};
      in.optional_string("key");  // accepted for forward compatibility; channels have no keys yet
      return c;
    }
    case CommandKind::part: {
      Part c;
      c.channel = in.channel("channel");
      c.reason = in.bounded_text("reason", true);
      return c;
    }
    case CommandKind::say: {
      Say c;
      c.channel = in.channel("channel");
      c.text = in.text("text");
      return c;
    }
    case CommandKind::msg: {
      Msg c;
      c.to = in.nick("to");
      c.text = in.text("text");
      return c;
    }
    case CommandKind::topic: {
      TopicCmd c;
      c.channel = in.channel("channel");
      c.topic = in.bounded_text("topic", true);
      return c;
    }
    case CommandKind::list: return List{};
    case CommandKind::members: return Members{in.channel("channel")};
    case CommandKind::history: {
      History c;
      c.channel = in.channel("channel");
      c.before = in.optional_count("before");
      c.after = in.optional_count("after");
      std::optional<std::uint64_t> limit = in.optional_count("limit");
      if (limit && (*limit < history_limit_min || *limit > history_limit_max) && !in.error)
        in.error = Error{ErrorCode::bad_request, "'limit' must be an integer from " +
                                                     std::to_string(history_limit_min) + " to " +
                                                     std::to_string(history_limit_max)};
      else if (limit)
        c.limit = static_cast<unsigned>(*limit);
      return c;
    }
    case CommandKind::ping: return Ping{};
    case CommandKind::quit: return Quit{in.bounded_text("reason", true)};
    case CommandKind::unknown: break;
  }
  return Ping{};  // unreachable: unknown commands are answered before this
}

}  // namespace

Request parse_request(std::string_view line, const Limits& limits) {
  Request request;
  // Strict, non-throwing parse; invalid UTF-8 and lone surrogates are parse errors.
  Fields fields;
  fields.reserve(6);  // a command, its few arguments and an id: one allocation, not three
  const FieldsResult parsed = read_fields(line, fields);
  if (parsed == FieldsResult::not_json) {
    request.body = Error{ErrorCode::bad_json, "the line is not valid JSON in UTF-8"};
    return request;
  }
  if (parsed == FieldsResult::not_object) {
    request.body = Error{ErrorCode::bad_request, "a request is a JSON object"};
    return request;
  }
  if (auto error = read_id(fields, request.id)) {
    request.body = *error;
    return request;
  }
  const FieldValue* cmd = fields.find("cmd");
  const std::string* name = cmd ? std::get_if<std::string>(cmd) : nullptr;
  if (!name) {
    request.body = Error{ErrorCode::bad_request, "missing string field 'cmd'"};
    return request;
  }
  request.kind = command_kind(*name);
  if (request.kind == CommandKind::unknown) {
    request.body =
        Error{ErrorCode::unknown_command, "unknown command '" + name->substr(0, max_echoed_command) + "'"};
    return request;
  }
  FieldReader reader(fields, limits);
  Command command = read_command(request.kind, reader);
  if (reader.error)
    request.body = std::move(*reader.error);
  else
    request.body = std::move(command);
  return request;
}

}  // namespace parley
