#include "parley/admin/process_stats.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace parley::admin {
namespace {

// Reads at most `size` bytes of a file; 0 when it cannot be opened or read.
std::size_t read_file(const char* path, char* buf, std::size_t size) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t n = 0;
  while (n < size) {
    const ssize_t got = ::read(fd, buf + n, size - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    n += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return n;
}

// The unsigned integer at the front of `text` after any spaces; advances it.
std::optional<std::uint64_t> next_number(std::string_view& text) noexcept {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

// `btime` in /proc/stat: the boot time in seconds since the epoch. The file
// has a line per CPU and a long `intr` line before it, so it is read in
// chunks and only the first 64 bytes of each line are kept.
std::optional<std::uint64_t> boot_time() noexcept {
  const int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char chunk[4096];
  char line[64];
  std::size_t length = 0, total = 0;
  bool truncated = false;
  std::optional<std::uint64_t> found;
  while (!found && total < (1u << 20)) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    total += static_cast<std::size_t>(got);
    for (ssize_t i = 0; i < got && !found; ++i) {
      if (chunk[i] != '\n') {
        if (length < sizeof line) line[length++] = chunk[i]; else truncated = true;
        continue;
      }
      std::string_view text(line, length);
      if (!truncated && text.starts_with("btime ")) {
        text.remove_prefix(6);
        found = next_number(text);
      }
      length = 0;
      truncated = false;
    }
  }
  ::close(fd);
  return found;
}

std::optional<std::uint64_t> open_fd_count() noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  const int own = ::dirfd(dir);
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name(entry->d_name);
    std::uint64_t fd = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc() || end != name.data() + name.size()) continue;  // "." and ".."
    if (own >= 0 && fd == static_cast<std::uint64_t>(own)) continue;    // the listing's own descriptor
    ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

std::optional<StatTimes> parse_stat(std::string_view text) noexcept {
  // "pid (comm) state ppid ...": comm may hold anything, so the fields are
  // counted from the last ')'. After it, field 3 (state) is index 0.
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos) return std::nullopt;
  text.remove_prefix(close_paren + 1);
  StatTimes times;
  for (int index = 0; index <= 19; ++index) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    if (index == 11 || index == 12 || index == 19) {  // fields 14, 15 and 22
      const auto value = next_number(text);
      if (!value) return std::nullopt;
      (index == 11 ? times.utime : index == 12 ? times.stime : times.starttime) = *value;
    } else {
      const auto space = text.find(' ');
      text.remove_prefix(space == std::string_view::npos ? text.size() : space);
    }
  }
  return times;
}

ProcessStats read_process_stats() noexcept {
  ProcessStats stats;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  char buf[1024];
  if (const auto times = parse_stat(std::string_view(buf, read_file("/proc/self/stat", buf, sizeof buf)));
      times && ticks > 0) {
    const auto hz = static_cast<double>(ticks);
    stats.cpu_seconds = static_cast<double>(times->utime + times->stime) / hz;
    if (const auto boot = boot_time())
      stats.start_time_seconds = static_cast<double>(*boot) + static_cast<double>(times->starttime) / hz;
  }
  std::string_view statm(buf, read_file("/proc/self/statm", buf, sizeof buf));
  const long page = ::sysconf(_SC_PAGESIZE);
  if (next_number(statm) && page > 0) {  // size, then resident, in pages
    if (const auto resident = next_number(statm)) stats.resident_bytes = *resident * static_cast<std::uint64_t>(page);
  }
  stats.open_fds = open_fd_count();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    stats.max_fds = static_cast<std::uint64_t>(limit.rlim_cur);
  return stats;
}

void write_process_stats(PrometheusWriter& out, const ProcessStats& stats) {
  auto write = [&out](std::string_view name, MetricType type, std::string_view help, const auto& value) {
    if (!value) return;
    out.family(name, type, help);
    out.sample(*value);
  };
  write("process_cpu_seconds_total", MetricType::counter, "Total user and system CPU time spent in seconds.",
        stats.cpu_seconds);
  write("process_resident_memory_bytes", MetricType::gauge, "Resident memory size in bytes.", stats.resident_bytes);
  write("process_open_fds", MetricType::gauge, "Number of open file descriptors.", stats.open_fds);
  write("process_max_fds", MetricType::gauge, "Maximum number of open file descriptors.", stats.max_fds);
  write("process_start_time_seconds", MetricType::gauge, "Start time of the process since unix epoch in seconds.",
        stats.start_time_seconds);
}

}  // namespace parley::admin
