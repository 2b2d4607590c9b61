// A request line's top-level fields. A request is a flat JSON object, so its
// own fields are all the parser keeps: nested values are validated and then
// recorded as `Nested`. Reading into this table instead of a JSON document
// saves an allocation per key and value on every request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley {

struct Nested {
  bool operator==(const Nested&) const = default;
};
using FieldValue = std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, Nested>;

struct Field {
  std::string key;
  FieldValue value;
  bool operator==(const Field&) const = default;
};

class Fields {
 public:
  // nullptr when absent or null: the contract treats both the same.
  const FieldValue* find(std::string_view key) const;
  FieldValue* find(std::string_view key) {
    return const_cast<FieldValue*>(static_cast<const Fields&>(*this).find(key));
  }
  // Duplicate keys: the last one wins.
  void set(std::string key, FieldValue value);
  void clear() { fields_.clear(); }
  void reserve(std::size_t n) { fields_.reserve(n); }
  const std::vector<Field>& all() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

enum class FieldsResult { object, not_json, not_object };

// Parses one line strictly (RFC 8259, UTF-8; what nlohmann_json accepts).
FieldsResult read_fields(std::string_view line, Fields& out);

// The fast path alone: plain flat objects (ASCII strings with simple
// escapes, integers, literals). Returns false, leaving `out` unspecified,
// whenever the line is anything else; then only the full parser can tell.
bool read_flat_object(std::string_view line, Fields& out);

}  // namespace parley
