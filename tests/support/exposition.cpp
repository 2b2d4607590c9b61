#include "exposition.hpp"

#include <cstdlib>
#include <sstream>
#include <string_view>

namespace parley::test {

std::optional<double> metric_value(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name + " ")) return std::strtod(line.c_str() + name.size() + 1, nullptr);
  return std::nullopt;
}

namespace {

// `name{a="x",b="y"} value`; nullopt when it is not that shape.
std::optional<MetricSample> parse_sample(std::string_view line) {
  MetricSample sample;
  const std::size_t name_end = line.find_first_of("{ ");
  if (name_end == 0 || name_end == std::string_view::npos) return std::nullopt;
  sample.name = line.substr(0, name_end);
  std::size_t at = name_end;
  if (line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      const std::size_t eq = line.find("=\"", at);
      if (eq == std::string_view::npos) return std::nullopt;
      std::string label(line.substr(at, eq - at)), value;
      for (at = eq + 2; at < line.size() && line[at] != '"'; ++at) {
        if (line[at] == '\\' && at + 1 < line.size()) {
          const char escaped = line[++at];
          value += escaped == 'n' ? '\n' : escaped;
        } else {
          value += line[at];
        }
      }
      if (at >= line.size()) return std::nullopt;
      sample.labels.emplace_back(std::move(label), std::move(value));
      if (++at < line.size() && line[at] == ',') ++at;
    }
    if (at >= line.size()) return std::nullopt;
    ++at;
  }
  if (at >= line.size() || line[at] != ' ') return std::nullopt;
  sample.value = line.substr(at + 1);
  return sample;
}

}  // namespace

std::vector<MetricFamily> metric_families(const std::string& exposition) {
  std::vector<MetricFamily> families;
  auto family_named = [&](std::string_view name) -> MetricFamily& {
    if (families.empty() || families.back().name != name) families.push_back({std::string(name), "", "", {}});
    return families.back();
  };
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    for (std::string_view kind : {"# HELP ", "# TYPE "}) {
      if (!line.starts_with(kind)) continue;
      const std::string_view rest = std::string_view(line).substr(kind.size());
      const std::size_t space = rest.find(' ');
      MetricFamily& family = family_named(rest.substr(0, space));
      const std::string_view text = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      (kind == "# HELP " ? family.help : family.type) = text;
    }
    if (line.starts_with("#")) continue;
    std::optional<MetricSample> sample = parse_sample(line);
    if (families.empty()) families.emplace_back();
    families.back().samples.push_back(sample ? std::move(*sample) : MetricSample{"", {}, line});
  }
  return families;
}

}  // namespace parley::test
