// Checked reads of the JSON the server sends. A line from the server is
// input like any other: a field may be missing or of another type, and
// reading it must neither assert nor throw (operator[] on a const json and a
// missing key is undefined behaviour; value() throws on a mistyped field).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace parley::client {

// The field `key` of `object`; a null value when `object` is not an object
// or has no such field.
const nlohmann::json& field(const nlohmann::json& object, const char* key);

// The field as a string; "" when it is missing or not a string.
std::string field_text(const nlohmann::json& object, const char* key);

// A `seq` (an integer >= 0); 0 for anything else.
std::uint64_t as_seq(const nlohmann::json& value);
// Whether `value` is a usable `seq`.
bool is_seq(const nlohmann::json& value);

// True only when the field is the boolean true.
bool field_is_true(const nlohmann::json& object, const char* key);

}  // namespace parley::client
