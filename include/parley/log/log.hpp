// One line per event on stderr: time, level, connection, peer, what happened.
//   2026-11-26T09:13:27.123Z info conn=5 peer=127.0.0.1:50312 connected
#pragma once

#include <cstdint>
#include <string_view>

namespace parley {

enum class LogLevel { error, warn, info, debug };

}  // namespace parley

namespace parley::log {

void set_level(LogLevel level);
bool enabled(LogLevel level);

// conn 0 and an empty peer are for server-wide lines.
void write(LogLevel level, std::uint64_t conn, std::string_view peer, std::string_view what);

inline void info(std::string_view what) { write(LogLevel::info, 0, {}, what); }
inline void warn(std::string_view what) { write(LogLevel::warn, 0, {}, what); }

}  // namespace parley::log
