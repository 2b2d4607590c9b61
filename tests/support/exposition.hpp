// A Prometheus text exposition (format 0.0.4) read back, for the tests of
// /metrics: the unit tests of the page's text and the integration tests
// that scrape a running server. Standard library only.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::test {

// The value of the sample `name` (with its labels as written, e.g.
// `parley_users` or `parley_requests_total{command="say",result="ok"}`) in
// a Prometheus text exposition; nullopt when it has no such line.
std::optional<double> metric_value(const std::string& exposition, const std::string& name);

struct MetricSample {
  std::string name;                                         // with any _bucket, _sum or _count
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  std::string value;                                        // as written
};

// A family: what its `# HELP` and `# TYPE` lines say (empty where it has
// none), and the samples that follow them up to the next family.
struct MetricFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<MetricSample> samples;
};

// The families in the order written. A family starts at a `# HELP` or a
// `# TYPE` line with a new name, or at a sample before any; a line that
// does not parse is kept as a sample with an empty name.
std::vector<MetricFamily> metric_families(const std::string& exposition);

}  // namespace parley::test
