// Line framing: splits a byte stream into LF-terminated lines.
//
// A CR right before the LF is dropped; empty lines are skipped. The framer
// never holds more than `max_line` bytes of an unfinished line: a line whose
// bytes before the LF (a CR there included) exceed `max_line` is an error.
//
// Complete lines are handed to the consumer straight out of the caller's
// buffer when nothing is pending, so the common case copies nothing. The
// consumer may ask to pause (backpressure); the unconsumed rest is kept and
// handed over again by `resume`. Kept bytes are bounded by one fed chunk plus
// `max_line`, since the caller stops feeding while paused.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

class LineFramer {
 public:
  enum class Status { drained, paused, line_too_long };

  explicit LineFramer(std::size_t max_line) : max_line_(max_line) {}

  // on_line(std::string_view line) -> bool: false pauses the framer.
  template <class OnLine>
  Status feed(std::string_view data, OnLine&& on_line) {
    if (!pending_.empty()) {
      pending_.append(data);
      return resume(on_line);
    }
    std::size_t used = 0;
    const Status status = scan(data, used, on_line);
    if (status != Status::line_too_long) pending_.assign(data.substr(used));
    return status == Status::drained ? check_partial() : status;
  }

  // Hands over the lines kept while paused.
  template <class OnLine>
  Status resume(OnLine&& on_line) {
    std::size_t used = 0;
    const Status status = scan(pending_, used, on_line);
    if (status == Status::line_too_long) return status;
    pending_.erase(0, used);
    return status == Status::drained ? check_partial() : status;
  }

  // Bytes kept: an unfinished line, or lines not yet consumed while paused.
  std::size_t buffered() const { return pending_.size(); }
  bool has_pending_lines() const { return pending_.find('\n') != std::string::npos; }
  void release_memory() { std::string().swap(pending_); }

 private:
  template <class OnLine>
  Status scan(std::string_view data, std::size_t& used, OnLine& on_line) {
    while (used < data.size()) {
      const std::size_t lf = data.find('\n', used);
      if (lf == std::string_view::npos) return Status::drained;
      std::string_view line = data.substr(used, lf - used);
      if (line.size() > max_line_) return Status::line_too_long;
      used = lf + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      if (!on_line(line)) return Status::paused;
    }
    return Status::drained;
  }

  Status check_partial() const {
    return pending_.size() > max_line_ ? Status::line_too_long : Status::drained;
  }

  std::size_t max_line_;
  std::string pending_;
};

}  // namespace parley
