#include "meter.hpp"

#include "proc_stats.hpp"

namespace parley::bench {

void Meter::start() {
  started_ = true;
  if (server_pid_ > 0)
    if (auto s = sample_process(server_pid_)) server_cpu_ns_ = s->cpu_ns;
  loader_cpu_ns_ = own_cpu_ns();
  machine_ns_ = machine_busy_ns();
}

void Meter::stop(Result& result) {
  const double loader = static_cast<double>(own_cpu_ns() - loader_cpu_ns_) / 1e9;
  const double machine = static_cast<double>(machine_busy_ns() - machine_ns_) / 1e9;
  result.loader_cpu_s = loader;
  if (server_pid_ <= 0) return;
  const auto s = sample_process(server_pid_);
  if (!s) return;
  result.have_server = true;
  result.server_cpu_s = static_cast<double>(s->cpu_ns - server_cpu_ns_) / 1e9;
  result.server_rss_bytes = s->rss_bytes;
  // /proc/stat counts in clock ticks: anything under two ticks per CPU is noise.
  const double other = machine - loader - result.server_cpu_s;
  result.other_cpu_s = other > 0.04 ? other : 0;
}

}  // namespace parley::bench
