#include "result.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace parley::bench {
namespace {

std::string format(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

std::string count(double n) {
  if (n >= 1e6) return format("%.2f M", n / 1e6);
  if (n >= 1e4) return format("%.1f k", n / 1e3);
  return format("%.0f", n);
}

std::string ms(std::uint64_t ns) { return format("%.3f", static_cast<double>(ns) / 1e6); }

std::string bytes(double n) {
  if (n >= 1 << 20) return format("%.1f MiB", n / (1 << 20));
  if (n >= 1 << 10) return format("%.1f KiB", n / (1 << 10));
  return format("%.0f B", n);
}

void row(std::ostream& out, const std::string& name, const std::string& value) {
  out << "  " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << value << "\n";
}

void latency_row(std::ostream& out, const char* name, const Histogram& h) {
  if (h.count() == 0) return;
  row(out, name,
      ms(h.quantile(0.5)) + " / " + ms(h.quantile(0.9)) + " / " + ms(h.quantile(0.99)) + " / " +
          ms(h.quantile(0.999)) + " / " + ms(h.max()) + " ms  (p50/p90/p99/p99.9/max of " +
          std::to_string(h.count()) + ")");
}

nlohmann::ordered_json latency_json(const Histogram& h) {
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  return {{"count", h.count()},      {"p50", us(h.quantile(0.5))},     {"p90", us(h.quantile(0.9))},
          {"p99", us(h.quantile(0.99))}, {"p999", us(h.quantile(0.999))}, {"max", us(h.max())},
          {"mean", h.mean() / 1e3}};
}

}  // namespace

std::optional<double> Result::server_us_per_1000() const {
  if (!have_server || deliveries == 0) return std::nullopt;
  return server_cpu_s * 1e6 / static_cast<double>(deliveries) * 1000.0;
}

void print_table(std::ostream& out, const Result& r) {
  out << "parley-bench " << r.scenario << ": " << r.protocol << " at " << r.server << "\n";
  row(out, "shape", r.payload ? r.shape + ", " + std::to_string(r.payload) + " B texts" : r.shape);
  if (!r.mode.empty()) row(out, "load", r.mode);
  row(out, "window", format("%.1f s measured", r.duration_s) + format(" after %.1f s warm-up", r.warmup_s));
  if (r.scenario == "connect") {
    row(out, "cycles/s", count(r.per_second(r.cycles)));
    latency_row(out, "cycle time", r.latency);
  } else if (r.scenario == "idle") {
    row(out, "connections", std::to_string(r.connections));
    latency_row(out, "ping latency", r.latency);
  } else {
    row(out, "messages/s", count(r.per_second(r.messages)));
    row(out, "deliveries/s", count(r.per_second(r.deliveries)));
    latency_row(out, "latency", r.latency);
  }
  for (const RampStep& s : r.steps)
    row(out, "step " + count(s.offered) + " msg/s",
        count(s.deliveries_per_s) + " deliveries/s, " + format("%.1f%% delivered", s.delivered_share * 100) +
            ", p50 " + ms(s.p50_ns) + " ms, p99 " + ms(s.p99_ns) + " ms" + (s.sustained ? "" : "  <- not sustained"));
  if (r.scenario == "ramp") row(out, "sustainable rate", count(r.sustainable_rate) + " msg/s");
  if (r.have_server) {
    std::string cpu = format("%.2f s", r.server_cpu_s) +
                      format(" (%.0f%% of a core)", r.duration_s > 0 ? r.server_cpu_s / r.duration_s * 100 : 0);
    if (auto us = r.server_us_per_1000()) cpu += format(", %.1f us per 1000 deliveries", *us);
    row(out, "server CPU", cpu);
    row(out, "server RSS", bytes(static_cast<double>(r.server_rss_bytes)));
    if (r.rss_per_conn_bytes) row(out, "server RSS per conn", bytes(*r.rss_per_conn_bytes));
  }
  row(out, "loader CPU",
      format("%.2f s", r.loader_cpu_s) +
          format(" (%.0f%% of a core)", r.duration_s > 0 ? r.loader_cpu_s / r.duration_s * 100 : 0) +
          (r.loader_bound() ? "  LOADER-BOUND: the loader, not the server, limited this run" : ""));
  if (r.have_server)
    row(out, "other CPU use", format("%.2f s", r.other_cpu_s) + (r.other_cpu_s > 0.1 * r.duration_s
                                                                     ? "  WARNING: something else used the CPUs"
                                                                     : ""));
  if (r.reconnect) {
    row(out, "reconnects",
        std::to_string(r.reconnects_after_shutdown + r.reconnects_after_loss) + " (" +
            std::to_string(r.reconnects_after_shutdown) + " after shutdown, " + std::to_string(r.reconnects_after_loss) +
            " after a lost connection); " + std::to_string(r.resumed) + " resumed, " + std::to_string(r.not_resumed) +
            " not, " + std::to_string(r.resumes_cut) + " cut before their answer");
    if (r.catch_up_pages > 0 || r.repeats > 0 || r.live_holes > 0)
      row(out, "catch-up",
          std::to_string(r.catch_up_messages) + " deliveries from " + std::to_string(r.catch_up_pages) +
              " history pages, " + std::to_string(r.repeats) + " seqs seen twice counted once, " +
              std::to_string(r.live_holes) + " holes in live seqs");
  }
  const Correctness& c = r.correctness;
  std::string counts = std::to_string(c.lost()) + " lost, " + std::to_string(c.duplicates) + " duplicates, " +
                       std::to_string(c.out_of_order) + " out of order, " + std::to_string(c.errors) + " errors, " +
                       std::to_string(c.disconnects) + " disconnects";
  if (c.unacknowledged > 0) counts += ", " + std::to_string(c.unacknowledged) + " sends unanswered";
  if (c.quit_events > 0) counts += ", " + std::to_string(c.quit_events) + " quit events seen";
  if (c.clean()) {
    row(out, "correctness",
        "OK: " + counts + (c.received ? " (" + std::to_string(c.received) + " deliveries checked)" : ""));
  } else {
    row(out, "correctness", "FAILED: " + counts);
    row(out, "first problem", c.first_problem);
  }
}

void print_json(std::ostream& out, const Result& r) {
  nlohmann::ordered_json j;
  j["scenario"] = r.scenario;
  j["protocol"] = r.protocol;
  j["address"] = r.server;
  j["shape"] = r.shape;
  j["connections"] = r.connections;
  j["payload"] = r.payload;
  j["mode"] = r.mode;
  j["warmup_s"] = r.warmup_s;
  j["duration_s"] = r.duration_s;
  j["messages"] = r.messages;
  j["deliveries"] = r.deliveries;
  j["messages_per_s"] = r.per_second(r.messages);
  j["deliveries_per_s"] = r.per_second(r.deliveries);
  j["latency_us"] = latency_json(r.latency);
  j["cycles"] = r.cycles;
  j["cycles_per_s"] = r.per_second(r.cycles);
  if (r.have_server) {
    j["server"] = {{"cpu_s", r.server_cpu_s},
                   {"cpu_us_per_1000_deliveries", r.server_us_per_1000() ? *r.server_us_per_1000() : 0.0},
                   {"rss_bytes", r.server_rss_bytes},
                   {"processes", r.server_processes}};
    if (r.rss_per_conn_bytes) j["server"]["rss_per_conn_bytes"] = *r.rss_per_conn_bytes;
  }
  j["loader"] = {{"cpu_s", r.loader_cpu_s}, {"bound", r.loader_bound()}};
  j["other_cpu_s"] = r.other_cpu_s;
  if (!r.steps.empty()) {
    auto steps = nlohmann::ordered_json::array();
    for (const RampStep& s : r.steps)
      steps.push_back({{"offered", s.offered},
                       {"deliveries_per_s", s.deliveries_per_s},
                       {"delivered_share", s.delivered_share},
                       {"p50_us", static_cast<double>(s.p50_ns) / 1e3},
                       {"p99_us", static_cast<double>(s.p99_ns) / 1e3},
                       {"sustained", s.sustained}});
    j["steps"] = steps;
    j["sustainable_rate"] = r.sustainable_rate;
  }
  if (r.reconnect) {
    j["reconnects"] = {{"total", r.reconnects_after_shutdown + r.reconnects_after_loss},
                       {"after_shutdown", r.reconnects_after_shutdown},
                       {"after_loss", r.reconnects_after_loss},
                       {"resumed", r.resumed},
                       {"not_resumed", r.not_resumed},
                       {"resumes_cut", r.resumes_cut}};
    j["catch_up"] = {{"pages", r.catch_up_pages},
                     {"messages", r.catch_up_messages},
                     {"repeats", r.repeats},
                     {"live_holes", r.live_holes}};
  }
  const Correctness& c = r.correctness;
  j["correctness"] = {{"sent", c.sent},
                      {"acked", c.acked},
                      {"expected", c.expected},
                      {"received", c.received},
                      {"lost", c.lost()},
                      {"duplicates", c.duplicates},
                      {"out_of_order", c.out_of_order},
                      {"errors", c.errors},
                      {"disconnects", c.disconnects},
                      {"unacknowledged", c.unacknowledged},
                      {"quit_events", c.quit_events},
                      {"first_problem", c.first_problem}};
  j["ok"] = c.clean();
  out << j.dump() << "\n";
}

}  // namespace parley::bench
