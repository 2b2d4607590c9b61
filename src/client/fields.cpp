#include "parley/client/fields.hpp"

namespace parley::client {

const nlohmann::json& field(const nlohmann::json& object, const char* key) {
  static const nlohmann::json missing;
  const auto it = object.find(key);  // end() for anything but an object
  return it == object.end() ? missing : *it;
}

std::string field_text(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = field(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool is_seq(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0);
}

std::uint64_t as_seq(const nlohmann::json& value) { return is_seq(value) ? value.get<std::uint64_t>() : 0; }

bool field_is_true(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = field(object, key);
  return value.is_boolean() && value.get<bool>();
}

}  // namespace parley::client
