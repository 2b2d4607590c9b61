// The admin listener's /metrics as a real Prometheus sees it: Debian's
// prometheus scrapes parleyd every second; after some chat, its query API
// must report the target up and the counters the traffic made, the same
// values parleyd's own /metrics gives.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace parley::test;

namespace {

constexpr const char* prometheus_binary = "/usr/bin/prometheus";

// Prometheus in a directory of its own (config and TSDB), listening on a
// port reserved for it; stopped with SIGTERM and the directory removed at
// the end.
class Prometheus {
 public:
  explicit Prometheus(const std::string& target) {
    REQUIRE_MESSAGE(access(prometheus_binary, X_OK) == 0,
                    "prometheus is not installed: tools/install-deps installs it");
    dir_ = temp_dir() + "/parley-prometheus-XXXXXX";
    REQUIRE(mkdtemp(dir_.data()) != nullptr);
    address_ = port_.address();
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n"
                                               "  scrape_interval: 1s\n"
                                               "  scrape_timeout: 1s\n"
                                               "  evaluation_interval: 1m\n"
                                               "scrape_configs:\n"
                                               "  - job_name: parley\n"
                                               "    static_configs:\n"
                                               "      - targets: ['" << target << "']\n";
    process_.emplace(std::vector<std::string>{prometheus_binary, "--config.file=" + dir_ + "/prometheus.yml",
                                              "--storage.tsdb.path=" + dir_ + "/data",
                                              "--web.listen-address=" + address_, "--log.level=warn",
                                              "--storage.tsdb.retention.time=1h"},
                     "");
  }
  ~Prometheus() {
    if (process_) process_->stop(SIGTERM, 10000);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  // GET `target` on the HTTP API, its JSON; null when it did not answer 200
  // (not started yet, for instance).
  json api(const std::string& target) {
    const HttpResponse r = http_get(address_, target, 2000);
    if (r.status != 200) return nullptr;
    json value = json::parse(r.body, nullptr, false);
    return value.is_discarded() ? json(nullptr) : value;
  }

  // The single value of an instant query, or nullopt while it has none.
  std::optional<double> query(const std::string& promql) {
    std::string encoded;
    for (unsigned char c : promql) {
      if (std::isalnum(c) || c == '_') {
        encoded += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        encoded += hex;
      }
    }
    const json answer = api("/api/v1/query?query=" + encoded);
    if (!answer.is_object() || answer.value("status", "") != "success") return std::nullopt;
    const json& result = answer["data"]["result"];
    if (!result.is_array() || result.size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  }

  std::string output() { return process_ ? process_->output() : ""; }

 private:
  ReservedPort port_;  // held while Prometheus runs, so no one else takes it first
  std::string dir_;
  std::string address_;
  std::optional<ChildProcess> process_;
};

}  // namespace

TEST_CASE("Prometheus scrapes /metrics: the target is up and the counters show the chat") {
  ServerProcess server({"--admin", "127.0.0.1:0"});
  const std::string admin = server.admin_address();
  Prometheus prometheus(admin);

  // Three users in one channel; one says 20 messages, each delivered to the
  // other two.
  constexpr int messages = 20;
  Client alice(server.address()), bob(server.address()), carol(server.address());
  alice.enter("alice", "#metrics");
  bob.enter("bob", "#metrics");
  carol.enter("carol", "#metrics");
  for (int i = 0; i < messages; ++i)
    REQUIRE(alice.call({{"cmd", "say"}, {"channel", "#metrics"}, {"text", "m" + std::to_string(i)}})["ok"] == true);
  for (int i = 0; i < messages; ++i) {
    CHECK(bob.wait_event("message")["text"] == "m" + std::to_string(i));
    CHECK(carol.wait_event("message")["text"] == "m" + std::to_string(i));
  }

  // What parleyd itself says now (nothing more happens until the end).
  const HttpResponse direct = http_get(admin, "/metrics");
  REQUIRE(direct.status == 200);
  const auto lines = metric_value(direct.body, "parley_lines_received_total");
  const auto says = metric_value(direct.body, "parley_requests_total{command=\"say\",result=\"ok\"}");
  const auto deliveries = metric_value(direct.body, "parley_deliveries_total");
  REQUIRE(lines);
  REQUIRE(says);
  REQUIRE(deliveries);
  CHECK(*lines == 3 * 2 + messages);             // hello and join each, and the says
  CHECK(*says == messages);
  CHECK(*deliveries == 1 + 2 + 2 * messages);    // bob's join to alice, carol's to both, the messages

  // Prometheus reports the target up, scraped at the admin address...
  json targets;
  auto target_up = [&] {
    targets = prometheus.api("/api/v1/targets");
    if (!targets.is_object()) return false;
    for (const json& t : targets["data"]["activeTargets"])
      if (t.value("health", "") == "up") return true;
    return false;
  };
  // Prometheus's HTTP API has no event to await: polled every 100 ms.
  CHECK_MESSAGE(poll_until(target_up, 30000, 100),
                "no target up in " << targets.dump() << "\nprometheus said:\n" << prometheus.output());
  REQUIRE(targets["data"]["activeTargets"].size() == 1);
  const json& target = targets["data"]["activeTargets"][0];
  CHECK(target["scrapeUrl"] == "http://" + admin + "/metrics");
  CHECK(target["labels"]["job"] == "parley");
  CHECK(target["lastError"] == "");

  // ...and the counters with the values the traffic left.
  std::optional<double> seen_lines, seen_says, seen_deliveries;
  auto scraped = [&] {
    seen_lines = prometheus.query("parley_lines_received_total{job=\"parley\"}");
    seen_says = prometheus.query("parley_requests_total{job=\"parley\",command=\"say\",result=\"ok\"}");
    seen_deliveries = prometheus.query("parley_deliveries_total{job=\"parley\"}");
    return seen_lines == lines && seen_says == says && seen_deliveries == deliveries;
  };
  CHECK_MESSAGE(poll_until(scraped, 30000, 100), "Prometheus has lines " << seen_lines.value_or(-1) << ", says "
                                                                         << seen_says.value_or(-1) << ", deliveries "
                                                                         << seen_deliveries.value_or(-1));
  CHECK(prometheus.query("up{job=\"parley\"}") == 1.0);
  CHECK(prometheus.query("parley_users{job=\"parley\"}") == 3.0);
}
