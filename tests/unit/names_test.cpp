#include <doctest/doctest.h>

#include "parley/chat/names.hpp"

using namespace parley;

TEST_CASE("nicks: allowed characters, first character, length 1-32") {
  CHECK(is_valid_nick("alice"));
  CHECK(is_valid_nick("_A-9"));
  CHECK(is_valid_nick(std::string(32, 'a')));
  CHECK_FALSE(is_valid_nick(std::string(33, 'a')));
  CHECK_FALSE(is_valid_nick(""));
  CHECK_FALSE(is_valid_nick("9lives"));
  CHECK_FALSE(is_valid_nick("-dash"));
  CHECK_FALSE(is_valid_nick("a b"));
  CHECK_FALSE(is_valid_nick("a.b"));
  CHECK_FALSE(is_valid_nick("\xc3\xa9t\xc3\xa9"));
}

TEST_CASE("channels: allowed characters, length 1-64") {
  CHECK(is_valid_channel("#rust-lang.de_1"));
  CHECK(is_valid_channel("9"));
  CHECK(is_valid_channel(std::string(64, '#')));
  CHECK_FALSE(is_valid_channel(std::string(65, 'a')));
  CHECK_FALSE(is_valid_channel(""));
  CHECK_FALSE(is_valid_channel("#a b"));
  CHECK_FALSE(is_valid_channel("#a,b"));
}

TEST_CASE("fold lowercases ASCII only") {
  CHECK(fold("AbC-#Z") == "abc-#z");
  CHECK(fold("\xc3\x89") == "\xc3\x89");
}
