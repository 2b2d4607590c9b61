#include "parley/admin/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace parley::admin {
namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

bool valid_labels(std::initializer_list<Label> labels) {
  return std::all_of(labels.begin(), labels.end(), [](const Label& l) { return valid_name(l.name, false); });
}

// Help text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

template <typename T>
void append_chars(std::string& out, T value) {
  char buf[32];  // the shortest round trip of a double is at most 24 characters
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec == std::errc()) out.append(buf, end);
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void Number::append_to(std::string& out) const {
  switch (kind_) {
    case Kind::signed_int: append_chars(out, signed_); return;
    case Kind::unsigned_int: append_chars(out, unsigned_); return;
    case Kind::floating:
      if (std::isnan(double_)) {
        out += "NaN";
      } else if (std::isinf(double_)) {
        out += double_ > 0 ? "+Inf" : "-Inf";
      } else {
        append_chars(out, double_);
      }
      return;
  }
}

void PrometheusWriter::family(std::string_view name, MetricType type, std::string_view help) {
  name_.clear();
  if (!valid_name(name, true) || std::find(declared_.begin(), declared_.end(), name) != declared_.end()) {
    ++misuses_;
    return;
  }
  declared_.emplace_back(name);
  name_ = name;
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void PrometheusWriter::sample(std::initializer_list<Label> labels, Number value) {
  if (name_.empty() || type_ == MetricType::histogram || !valid_labels(labels)) {
    ++misuses_;
    return;
  }
  line(name_, {}, labels, nullptr, value);
}

void PrometheusWriter::histogram(std::initializer_list<Label> labels, const Histogram& h) {
  const bool has_le = std::any_of(labels.begin(), labels.end(), [](const Label& l) { return l.name == "le"; });
  if (name_.empty() || type_ != MetricType::histogram || has_le || !valid_labels(labels)) {
    ++misuses_;
    return;
  }
  const auto bounds = h.bounds();
  const auto counts = h.bucket_counts();
  std::uint64_t cumulative = 0;
  char le[32];
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string_view le_text = "+Inf";
    if (i < bounds.size()) {
      const auto [end, ec] = std::to_chars(le, le + sizeof le, bounds[i]);
      le_text = std::string_view(le, ec == std::errc() ? static_cast<std::size_t>(end - le) : 0);
    }
    const Label bucket{"le", le_text};
    line(name_, "_bucket", labels, &bucket, cumulative);
  }
  line(name_, "_sum", labels, nullptr, h.sum());
  line(name_, "_count", labels, nullptr, h.count());
}

void PrometheusWriter::line(std::string_view name, std::string_view suffix, std::initializer_list<Label> labels,
                            const Label* extra, Number value) {
  out_ += name;
  out_ += suffix;
  if (labels.size() != 0 || extra != nullptr) {
    char separator = '{';
    auto append_label = [&](const Label& l) {
      out_ += separator;
      separator = ',';
      out_ += l.name;
      out_ += "=\"";
      append_escaped(out_, l.value, true);
      out_ += '"';
    };
    for (const Label& l : labels) append_label(l);
    if (extra != nullptr) append_label(*extra);
    out_ += '}';
  }
  out_ += ' ';
  value.append_to(out_);
  out_ += '\n';
}

}  // namespace parley::admin
