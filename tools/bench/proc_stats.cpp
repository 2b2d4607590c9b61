#include "proc_stats.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace parley::bench {
namespace {

std::uint64_t ticks_to_ns(std::uint64_t ticks) {
  static const long hz = sysconf(_SC_CLK_TCK);
  return ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(hz));
}

std::uint64_t timeval_ns(const timeval& tv) {
  return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(tv.tv_usec) * 1000ULL;
}

}  // namespace

std::optional<ProcessSample> sample_process(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // The command name may hold spaces; the fields after it are fixed.
  const auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close_paren + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // fields 3..13
  std::uint64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  ProcessSample sample;
  sample.cpu_ns = ticks_to_ns(utime + stime);
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_bytes = std::stoull(line.substr(6)) * 1024;
  }
  return sample;
}

std::uint64_t own_cpu_ns() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return timeval_ns(usage.ru_utime) + timeval_ns(usage.ru_stime);
}

std::uint64_t machine_busy_ns() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;  // the "cpu" line sums every CPU
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  // Interrupt time is left out: loopback traffic is processed in softirqs
  // that neither the server's nor the loader's CPU time includes.
  (void)irq;
  (void)softirq;
  return ticks_to_ns(user + nice + system + steal);
}

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace parley::bench
