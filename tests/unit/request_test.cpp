#include <doctest/doctest.h>

#include <string>

#include "parley/protocol/request.hpp"
#include "parley/chat/names.hpp"

using namespace parley;

namespace {

Limits small_limits() {
  Limits l;
  l.max_text = 8;
  return l;
}

Request parse(std::string_view line) { return parse_request(line, small_limits()); }

ErrorCode error_of(std::string_view line) {
  Request r = parse(line);
  REQUIRE(std::holds_alternative<Error>(r.body));
  return std::get<Error>(r.body).code;
}

template <class T>
T command_of(std::string_view line) {
  Request r = parse(line);
  REQUIRE(std::holds_alternative<Command>(r.body));
  REQUIRE(std::holds_alternative<T>(std::get<Command>(r.body)));
  return std::get<T>(std::get<Command>(r.body));
}

}  // namespace

TEST_CASE("invalid JSON and invalid UTF-8 are bad_json") {
  CHECK(error_of("{") == ErrorCode::bad_json);
  CHECK(error_of("{\"cmd\":\"ping\"} x") == ErrorCode::bad_json);
  CHECK(error_of("{\"cmd\":\"say\",\"text\":\"\xff\"}") == ErrorCode::bad_json);
  CHECK(error_of("{\"cmd\":\"say\",\"text\":\"\\ud800\"}") == ErrorCode::bad_json);
  CHECK(error_of(std::string("{\"cmd\":\"ping\"\0}", 15)) == ErrorCode::bad_json);
}

TEST_CASE("a line that is not an object is bad_request") {
  CHECK(error_of("[]") == ErrorCode::bad_request);
  CHECK(error_of("\"ping\"") == ErrorCode::bad_request);
  CHECK(error_of("42") == ErrorCode::bad_request);
  CHECK(error_of("null") == ErrorCode::bad_request);
}

TEST_CASE("cmd must be a known string") {
  CHECK(error_of("{}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":5}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"dance\"}") == ErrorCode::unknown_command);
  CHECK(parse("{\"cmd\":\"dance\"}").kind == CommandKind::unknown);
  CHECK(parse("{\"cmd\":\"join\"}").kind == CommandKind::join);
}

TEST_CASE("id: string up to 64 bytes or integer, echoed; other types are bad_request") {
  Request s = parse("{\"cmd\":\"ping\",\"id\":\"abc\"}");
  CHECK(s.id.kind == RequestId::Kind::string);
  CHECK(s.id.text == "abc");
  Request n = parse("{\"cmd\":\"ping\",\"id\":-7}");
  CHECK(n.id.kind == RequestId::Kind::integer);
  CHECK(n.id.integer == -7);
  Request u = parse("{\"cmd\":\"ping\",\"id\":18446744073709551615}");
  CHECK(u.id.kind == RequestId::Kind::unsigned_integer);
  CHECK(u.id.unsigned_integer == 18446744073709551615ULL);
  CHECK(parse("{\"cmd\":\"ping\",\"id\":null}").id.kind == RequestId::Kind::none);
  const std::string id64(64, 'x');
  CHECK(parse("{\"cmd\":\"ping\",\"id\":\"" + id64 + "\"}").id.text == id64);
  CHECK(error_of("{\"cmd\":\"ping\",\"id\":\"" + id64 + "x\"}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"ping\",\"id\":1.5}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"ping\",\"id\":true}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"ping\",\"id\":[1]}") == ErrorCode::bad_request);
}

TEST_CASE("unknown fields are ignored, duplicate keys: the last wins, null is absent") {
  CHECK(command_of<Join>("{\"cmd\":\"join\",\"channel\":\"#a\",\"x\":{\"y\":[]}}").channel == "#a");
  CHECK(command_of<Join>("{\"cmd\":\"join\",\"channel\":\"#a\",\"channel\":\"#b\"}").channel == "#b");
  CHECK(command_of<Part>("{\"cmd\":\"part\",\"channel\":\"#a\",\"reason\":null}").reason == std::nullopt);
  CHECK(error_of("{\"cmd\":\"join\",\"channel\":null}") == ErrorCode::bad_request);
}

TEST_CASE("hello and nick validate the nick") {
  CHECK(command_of<Hello>("{\"cmd\":\"hello\",\"nick\":\"alice\"}").nick == "alice");
  CHECK(command_of<Hello>("{\"cmd\":\"hello\",\"nick\":\"a\",\"token\":\"t\"}").token == "t");
  CHECK(error_of("{\"cmd\":\"hello\"}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"hello\",\"nick\":7}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"hello\",\"nick\":\"9x\"}") == ErrorCode::invalid_nick);
  CHECK(error_of("{\"cmd\":\"hello\",\"nick\":\"a\",\"token\":1}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"nick\",\"nick\":\"\"}") == ErrorCode::invalid_nick);
  CHECK(error_of("{\"cmd\":\"msg\",\"to\":\"bad nick\",\"text\":\"x\"}") == ErrorCode::invalid_nick);
}

TEST_CASE("channel fields are validated") {
  CHECK(error_of("{\"cmd\":\"join\",\"channel\":\"a b\"}") == ErrorCode::invalid_channel);
  CHECK(error_of("{\"cmd\":\"members\",\"channel\":\"\"}") == ErrorCode::invalid_channel);
  CHECK(error_of("{\"cmd\":\"say\",\"channel\":[],\"text\":\"x\"}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"join\",\"channel\":\"#a\",\"key\":1}") == ErrorCode::bad_request);
}

TEST_CASE("text: non-empty string of at most max_text bytes") {
  CHECK(command_of<Say>("{\"cmd\":\"say\",\"channel\":\"#a\",\"text\":\"12345678\"}").text == "12345678");
  CHECK(error_of("{\"cmd\":\"say\",\"channel\":\"#a\",\"text\":\"123456789\"}") == ErrorCode::text_too_long);
  CHECK(error_of("{\"cmd\":\"say\",\"channel\":\"#a\",\"text\":\"\"}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"say\",\"channel\":\"#a\"}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"say\",\"channel\":\"#a\",\"text\":5}") == ErrorCode::bad_request);
  // 4 two-byte characters = 8 bytes: fits; 5 do not.
  CHECK(command_of<Msg>("{\"cmd\":\"msg\",\"to\":\"b\",\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}").to == "b");
  CHECK(error_of("{\"cmd\":\"msg\",\"to\":\"b\",\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}") ==
        ErrorCode::text_too_long);
  CHECK(command_of<Say>("{\"cmd\":\"say\",\"channel\":\"#a\",\"text\":\"a\\u0000b\"}").text ==
        std::string("a\0b", 3));
}

TEST_CASE("topic: optional string, may be empty, at most max_text bytes") {
  CHECK(command_of<TopicCmd>("{\"cmd\":\"topic\",\"channel\":\"#a\"}").topic == std::nullopt);
  CHECK(command_of<TopicCmd>("{\"cmd\":\"topic\",\"channel\":\"#a\",\"topic\":\"\"}").topic == "");
  CHECK(error_of("{\"cmd\":\"topic\",\"channel\":\"#a\",\"topic\":\"123456789\"}") == ErrorCode::text_too_long);
  CHECK(error_of("{\"cmd\":\"topic\",\"channel\":\"#a\",\"topic\":false}") == ErrorCode::bad_request);
}

TEST_CASE("history: before/after integers >= 0, limit 1-500 default 50") {
  History h = command_of<History>("{\"cmd\":\"history\",\"channel\":\"#a\"}");
  CHECK(h.limit == 50);
  CHECK(h.before == std::nullopt);
  h = command_of<History>("{\"cmd\":\"history\",\"channel\":\"#a\",\"before\":0,\"after\":3,\"limit\":500}");
  CHECK(h.before == 0u);
  CHECK(h.after == 3u);
  CHECK(h.limit == 500);
  CHECK(command_of<History>("{\"cmd\":\"history\",\"channel\":\"#a\",\"limit\":1}").limit == 1);
  CHECK(error_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"limit\":0}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"limit\":501}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"before\":-1}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"after\":1.0}") == ErrorCode::bad_request);
  CHECK(error_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"after\":\"1\"}") == ErrorCode::bad_request);
}

TEST_CASE("quit and part take an optional reason") {
  CHECK(command_of<Quit>("{\"cmd\":\"quit\"}").reason == std::nullopt);
  CHECK(command_of<Quit>("{\"cmd\":\"quit\",\"reason\":\"bye\"}").reason == "bye");
  CHECK(error_of("{\"cmd\":\"quit\",\"reason\":1}") == ErrorCode::bad_request);
  CHECK(command_of<Part>("{\"cmd\":\"part\",\"channel\":\"#a\",\"reason\":\"x\"}").reason == "x");
}

TEST_CASE("errors that state a limit state the limit's constant") {
  const auto message_of = [](std::string_view line) {
    Request r = parse(line);
    REQUIRE(std::holds_alternative<Error>(r.body));
    return std::get<Error>(r.body).message;
  };
  CHECK(message_of("{\"cmd\":\"nick\",\"nick\":\"9x\"}").starts_with("a nick is 1-" + std::to_string(max_nick_length) + " "));
  CHECK(message_of("{\"cmd\":\"join\",\"channel\":\"a b\"}") ==
        "a channel name is 1-" + std::to_string(max_channel_length) + " of A-Z a-z 0-9 _ - . #");
  CHECK(message_of("{\"cmd\":\"ping\",\"id\":\"" + std::string(max_id_bytes + 1, 'i') + "\"}") ==
        "'id' is longer than " + std::to_string(max_id_bytes) + " bytes");
  CHECK(message_of("{\"cmd\":\"history\",\"channel\":\"#a\",\"limit\":0}") ==
        "'limit' must be an integer from 1 to " + std::to_string(history_limit_max));
}
