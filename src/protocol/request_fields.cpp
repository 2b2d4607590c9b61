#include "parley/protocol/request_fields.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace parley {
namespace {

using json = nlohmann::json;

// Receives the full parser's events. Only depth 1 (the top-level object's
// own fields) is recorded; deeper values are walked by the parser, which
// still validates them, and stand as `Nested` in their field.
class FieldCollector {
 public:
  explicit FieldCollector(Fields& fields) : fields_(fields) {}
  bool is_object = false;

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(static_cast<std::int64_t>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return value(static_cast<std::uint64_t>(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(static_cast<double>(v)); }
  bool string(json::string_t& v) { return value(std::move(v)); }
  bool binary(json::binary_t&) { return value(Nested{}); }
  bool key(json::string_t& k) {
    if (depth_ == 1) key_ = std::move(k);
    return true;
  }
  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  bool value(FieldValue v) {
    if (depth_ == 1) fields_.set(std::move(key_), std::move(v));
    return true;
  }
  bool open(bool object) {
    if (depth_ == 0) is_object = object;
    else if (depth_ == 1) fields_.set(std::move(key_), Nested{});
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  Fields& fields_;
  std::string key_;
  std::size_t depth_ = 0;
};

// The fast path's reader: gives up (returns false) on anything it does not
// handle itself rather than guess.
class FlatReader {
 public:
  explicit FlatReader(std::string_view in) : in_(in) {}

  bool object(Fields& out) {
    skip_space();
    if (!take('{')) return false;
    skip_space();
    if (take('}')) return at_end();
    for (;;) {
      std::string key;
      FieldValue value;
      skip_space();
      if (!string(key)) return false;
      skip_space();
      if (!take(':')) return false;
      skip_space();
      if (!scalar(value)) return false;
      out.set(std::move(key), std::move(value));
      skip_space();
      if (take('}')) return at_end();
      if (!take(',')) return false;
    }
  }

 private:
  bool at_end() {
    skip_space();
    return pos_ == in_.size();
  }
  void skip_space() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }
  bool take(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // ASCII only, no \u escapes, no control characters: the rest goes to the
  // full parser, which knows UTF-8 and surrogates.
  bool string(std::string& out) {
    if (!take('"')) return false;
    std::size_t run = pos_;
    while (pos_ < in_.size()) {
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        out.append(in_.substr(run, pos_ - run));
        ++pos_;
        return true;
      }
      if (c < 0x20 || c >= 0x80) return false;
      if (c != '\\') {
        ++pos_;
        continue;
      }
      out.append(in_.substr(run, pos_ - run));
      if (++pos_ >= in_.size()) return false;
      switch (in_[pos_]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        default: return false;  // \u and invalid escapes
      }
      run = ++pos_;
    }
    return false;
  }

  // Integers as the full parser types them: unsigned when not negative,
  // signed when negative; out of range, fractions and exponents give up.
  bool number(FieldValue& out) {
    const std::size_t start = pos_;
    const bool negative = take('-');
    const std::size_t digits = pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
    if (pos_ == digits) return false;
    if (in_[digits] == '0' && pos_ - digits > 1) return false;  // leading zero: invalid JSON
    if (pos_ < in_.size() && (in_[pos_] == '.' || in_[pos_] == 'e' || in_[pos_] == 'E')) return false;
    const char* first = in_.data() + start;
    const char* last = in_.data() + pos_;
    if (negative) {
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec != std::errc{} || ptr != last) return false;
      out = v;
    } else {
      std::uint64_t v = 0;
      const auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec != std::errc{} || ptr != last) return false;
      out = v;
    }
    return true;
  }

  bool scalar(FieldValue& out) {
    if (pos_ >= in_.size()) return false;
    switch (in_[pos_]) {
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = std::move(s);
        return true;
      }
      case 't': out = true; return literal("true");
      case 'f': out = false; return literal("false");
      case 'n': out = nullptr; return literal("null");
      default: return number(out);
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

const FieldValue* Fields::find(std::string_view key) const {
  for (const Field& f : fields_)
    if (f.key == key) return std::holds_alternative<std::nullptr_t>(f.value) ? nullptr : &f.value;
  return nullptr;
}

void Fields::set(std::string key, FieldValue value) {
  for (Field& f : fields_)
    if (f.key == key) {
      f.value = std::move(value);
      return;
    }
  fields_.push_back({std::move(key), std::move(value)});
}

bool read_flat_object(std::string_view line, Fields& out) { return FlatReader(line).object(out); }

FieldsResult read_fields(std::string_view line, Fields& out) {
  if (read_flat_object(line, out)) return FieldsResult::object;
  out.clear();
  FieldCollector collector(out);
  if (!json::sax_parse(line.begin(), line.end(), &collector)) return FieldsResult::not_json;
  return collector.is_object ? FieldsResult::object : FieldsResult::not_object;
}

}  // namespace parley
