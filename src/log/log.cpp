#include "parley/log/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace parley::log {
namespace {

LogLevel current = LogLevel::info;

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "?";
}

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms));
  return text;
}

}  // namespace

void set_level(LogLevel level) { current = level; }

bool enabled(LogLevel level) { return static_cast<int>(level) <= static_cast<int>(current); }

void write(LogLevel level, std::uint64_t conn, std::string_view peer, std::string_view what) {
  if (!enabled(level)) return;
  std::string line = timestamp();
  line += ' ';
  line += name(level);
  if (conn != 0) {
    line += " conn=" + std::to_string(conn);
    line += " peer=";
    line += peer.empty() ? std::string_view("-") : peer;
  }
  line += ' ';
  line += what;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace parley::log
