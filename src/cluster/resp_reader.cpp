#include "parley/cluster/resp_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace parley::cluster {
namespace {

// A header's number: decimal digits with an optional '-', nothing else.
bool parse_number(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.front() == '+') return false;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, out);
  return error == std::errc() && stop == end;
}

// Elements an aggregate header of `type` and `count` brings: a map's and an
// attribute's come in key-value pairs.
std::uint64_t elements_of(char type, std::int64_t count) {
  const auto n = static_cast<std::uint64_t>(count);
  return type == '%' || type == '|' ? n * 2 : n;
}

}  // namespace

RespReader::RespReader(RespLimits limits) : limits_(limits) {
  // A node counts its elements and its subtree's end in 32 bits.
  limits_.max_elements = std::min<std::size_t>(limits_.max_elements, UINT32_MAX - 1);
}

void RespReader::feed(std::string_view bytes) {
  forget_value();
  // What was consumed goes once it is half the buffer: each byte is moved
  // a bounded number of times however the stream is cut.
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    scanned_ -= start_;
    searched_ = searched_ > start_ ? searched_ - start_ : 0;
    start_ = 0;
  }
  buffer_.append(bytes);
}

void RespReader::forget_value() {
  if (!holding_) return;
  holding_ = false;
  start_ = scanned_;
  nodes_.clear();
  push_ = false;
}

RespReader::Status RespReader::next() {
  if (broken_) return Status::broken;
  forget_value();
  const Scan result = scan();
  if (result == Scan::more) return Status::incomplete;
  if (result == Scan::broken) return Status::broken;
  build(start_, true);
  holding_ = true;
  return Status::value;
}

RespReader::Scan RespReader::fail(std::string why) {
  broken_ = true;
  why_ = std::move(why);
  stack_.clear();
  nodes_.clear();
  return Scan::broken;
}

RespReader::Scan RespReader::fail_too_long() {
  return fail("reply longer than " + std::to_string(limits_.max_bytes) + " bytes");
}

RespReader::Scan RespReader::scan() {
  for (;;) {
    const Scan step = scan_one();
    if (step == Scan::item) continue;
    if (step == Scan::whole) {
      elements_ = 0;
      searched_ = scanned_;
    }
    return step;
  }
}

// One header (and a string's bytes) at scanned_: the item it makes, or
// `more` with scanned_ left at the header, to be read again once more bytes
// are in (a header is short; a string is not searched, only measured).
RespReader::Scan RespReader::scan_one() {
  const std::size_t at = scanned_;
  const std::size_t size = buffer_.size();
  if (searched_ < at) searched_ = at;
  const char* base = buffer_.data();
  const void* cr = searched_ < size ? std::memchr(base + searched_, '\r', size - searched_) : nullptr;
  if (cr == nullptr || static_cast<const char*>(cr) + 1 == base + size) {
    searched_ = cr == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(cr) - base);
    if (size - start_ > limits_.max_bytes) return fail_too_long();
    return Scan::more;
  }
  const std::size_t eol = static_cast<std::size_t>(static_cast<const char*>(cr) - base);
  std::size_t next = eol + 2;
  // The length first: fed in pieces, a header too long breaks before its
  // CR is in, and the verdict must not depend on that.
  if (next - start_ > limits_.max_bytes) return fail_too_long();
  if (base[eol + 1] != '\n') return fail("a header not ended by CRLF");
  if (eol == at) return fail("a header without a type");
  const char type = base[at];
  const std::string_view text(base + at + 1, eol - at - 1);
  std::int64_t number = 0;
  switch (type) {
    case '+':
    case '-':
    case '(':
    case ',':
      break;
    case '_':
      if (!text.empty()) return fail("a null with content");
      break;
    case '#':
      if (text != "t" && text != "f") return fail("a boolean neither t nor f");
      break;
    case ':':
      if (!parse_number(text, number)) return fail("an integer that is not one");
      break;
    case '$':
    case '!':
    case '=': {
      if (!parse_number(text, number) || number < -1 || (number == -1 && type != '$'))
        return fail("a string with a bad length");
      if (number == -1) break;  // RESP2's null
      const auto length = static_cast<std::uint64_t>(number);
      if (length > limits_.max_bytes || next - start_ + length + 2 > limits_.max_bytes) return fail_too_long();
      const std::size_t end = next + static_cast<std::size_t>(length);
      if (end + 2 > size) return Scan::more;
      if (base[end] != '\r' || base[end + 1] != '\n') return fail("a string not ended by CRLF");
      if (type == '=' && (length < 4 || base[next + 3] != ':')) return fail("a verbatim string without its format");
      next = end + 2;
      break;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      if (!parse_number(text, number) || number < -1 || (number == -1 && type != '*'))
        return fail("an aggregate with a bad count");
      if (number == -1) break;  // RESP2's null array
      const std::uint64_t count = elements_of(type, number);
      if (stack_.size() + 1 > limits_.max_depth)
        return fail("reply too deep (more than " + std::to_string(limits_.max_depth) + " levels)");
      if (count > limits_.max_elements - elements_)
        return fail("reply too large (more than " + std::to_string(limits_.max_elements) + " elements)");
      elements_ += static_cast<std::size_t>(count);
      scanned_ = next;
      if (count > 0) {
        stack_.push_back({count, type == '|'});
        return Scan::item;
      }
      if (type == '|') return Scan::item;  // annotates nothing yet: the value after it is the item
      return finish_item() ? Scan::whole : Scan::item;
    }
    default:
      return fail("an unknown type byte");
  }
  scanned_ = next;
  return finish_item() ? Scan::whole : Scan::item;
}

// An item is complete: it fills its place in the aggregate around it, which
// may complete in turn. True when that completes the whole value.
bool RespReader::finish_item() {
  while (!stack_.empty()) {
    Frame& top = stack_.back();
    if (--top.left > 0) return false;
    const bool attribute = top.attribute;
    stack_.pop_back();
    if (attribute) return false;  // the value it annotates comes next, in the same place
  }
  return true;
}

// The attributes (`|`) at `at`, built and dropped; returns where the value
// they annotate begins. A loop, not a recursion: nothing bounds how many
// may come in a row (an empty one counts toward no limit), and the stack
// must not be what gives out. Their own elements nest, within max_depth.
std::size_t RespReader::skip_attributes(std::size_t at) {
  const char* base = buffer_.data();
  while (base[at] == '|') {
    const auto eol = static_cast<std::size_t>(
        static_cast<const char*>(std::memchr(base + at, '\r', buffer_.size() - at)) - base);
    std::int64_t number = 0;
    parse_number(std::string_view(base + at + 1, eol - at - 1), number);
    std::size_t next = eol + 2;
    const std::size_t mark = nodes_.size();
    for (std::uint64_t i = 0; i < elements_of('|', number); ++i) next = build(next, false);
    nodes_.resize(mark);
    at = next;
  }
  return at;
}

// The value at `at` into nodes_ (its bytes were all checked by scan()).
// Returns where the next value begins.
std::size_t RespReader::build(std::size_t at, bool root) {
  const char* base = buffer_.data();
  at = skip_attributes(at);
  const char type = base[at];
  const auto eol = static_cast<std::size_t>(
      static_cast<const char*>(std::memchr(base + at, '\r', buffer_.size() - at)) - base);
  const std::string_view text(base + at + 1, eol - at - 1);
  std::size_t next = eol + 2;
  std::int64_t number = 0;
  const std::size_t index = nodes_.size();
  nodes_.emplace_back();
  RespNode node;
  using Type = RespNode::Type;
  switch (type) {
    case '+':
      node.type = Type::status;
      node.text = text;
      break;
    case '-':
      node.type = Type::error;
      node.text = text;
      break;
    case '(':
    case ',':
      node.type = Type::string;
      node.text = text;
      break;
    case '#':
      if (text == "t") {
        node.type = Type::integer;
        node.integer = 1;
      }
      break;
    case ':':
      parse_number(text, number);
      node.type = Type::integer;
      node.integer = number;
      break;
    case '$':
    case '!':
    case '=':
      parse_number(text, number);
      if (number < 0) break;
      node.type = type == '!' ? Type::error : Type::string;
      node.text = std::string_view(base + next, static_cast<std::size_t>(number));
      if (type == '=') node.text.remove_prefix(4);  // "txt:", "mkd:"
      next += static_cast<std::size_t>(number) + 2;
      break;
    case '*':
    case '%':
    case '~':
    case '>': {
      parse_number(text, number);
      if (number < 0) break;
      const std::uint64_t count = elements_of(type, number);
      node.type = Type::array;
      node.size = static_cast<std::uint32_t>(count);
      if (root && type == '>') push_ = true;
      for (std::uint64_t i = 0; i < count; ++i) next = build(next, false);
      break;
    }
    default:  // '_'
      break;
  }
  node.end = static_cast<std::uint32_t>(nodes_.size());
  nodes_[index] = node;  // by index: building the elements may have moved nodes_
  return next;
}

RedisReply RespReader::reply(std::size_t i) const {
  RedisReply r;
  if (i >= nodes_.size()) return r;
  const RespNode& node = nodes_[i];
  using Type = RespNode::Type;
  switch (node.type) {
    case Type::nil: break;
    case Type::integer:
      r.type = RedisReply::Type::integer;
      r.integer = node.integer;
      break;
    case Type::string: r.type = RedisReply::Type::string; break;
    case Type::status: r.type = RedisReply::Type::status; break;
    case Type::error: r.type = RedisReply::Type::error; break;
    case Type::array: {
      r.type = RedisReply::Type::array;
      r.elements.reserve(node.size);
      std::size_t child = i + 1;
      for (std::uint32_t k = 0; k < node.size; ++k) {
        r.elements.push_back(reply(child));
        child = nodes_[child].end;
      }
      break;
    }
  }
  if (node.type != Type::integer && node.type != Type::array) r.str.assign(node.text);
  return r;
}

}  // namespace parley::cluster
