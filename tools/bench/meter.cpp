#include "meter.hpp"

#include "proc_stats.hpp"

namespace parley::bench {

void Meter::start() {
  started_ = true;
  server_cpu_ns_.clear();
  for (pid_t pid : server_pids_) {
    const auto s = sample_process(pid);
    server_cpu_ns_.push_back(s ? std::optional<std::uint64_t>(s->cpu_ns) : std::nullopt);
  }
  loader_cpu_ns_ = own_cpu_ns();
  machine_ns_ = machine_busy_ns();
}

void Meter::stop(Result& result) {
  const double loader = static_cast<double>(own_cpu_ns() - loader_cpu_ns_) / 1e9;
  const double machine = static_cast<double>(machine_busy_ns() - machine_ns_) / 1e9;
  result.loader_cpu_s = loader;
  std::uint64_t cpu_ns = 0, rss = 0;
  std::size_t processes = 0;
  for (std::size_t i = 0; i < server_pids_.size() && i < server_cpu_ns_.size(); ++i) {
    if (!server_cpu_ns_[i]) continue;
    const auto s = sample_process(server_pids_[i]);
    if (!s) continue;
    cpu_ns += s->cpu_ns - *server_cpu_ns_[i];
    rss += s->rss_bytes;
    ++processes;
  }
  if (processes == 0) return;
  result.have_server = true;
  result.server_processes = processes;
  result.server_cpu_s = static_cast<double>(cpu_ns) / 1e9;
  result.server_rss_bytes = rss;
  // /proc/stat counts in clock ticks: anything under two ticks per CPU is noise.
  const double other = machine - loader - result.server_cpu_s;
  result.other_cpu_s = other > 0.04 ? other : 0;
}

std::optional<std::uint64_t> total_rss_bytes(const std::vector<pid_t>& pids) {
  std::optional<std::uint64_t> total;
  for (pid_t pid : pids)
    if (const auto s = sample_process(pid)) total = total.value_or(0) + s->rss_bytes;
  return total;
}

}  // namespace parley::bench
