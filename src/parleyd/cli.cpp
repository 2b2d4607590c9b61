#include "parley/parleyd/cli.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>

#include "parley_version.h"

namespace parley {
namespace {

struct UsageError {
  std::string message;
};

unsigned long long number(const std::string& flag, const std::string& value,
                          unsigned long long min, unsigned long long max) {
  unsigned long long n = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec != std::errc() || ptr != end || n < min || n > max)
    throw UsageError{flag + " takes a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", not '" + value + "'"};
  return n;
}

struct Flag {
  const char* name;
  const char* arg;  // nullptr for switches
  const char* help;
  std::function<void(ServerConfig&, const std::string&)> apply;
};

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError{"--auth-token-file: cannot read '" + path + "'"};
  std::string token;
  std::getline(in, token);
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) throw UsageError{"--auth-token-file: '" + path + "' holds no token"};
  return token;
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"--listen", "ADDR",
       "listen on HOST:PORT, [IPV6]:PORT or unix:PATH; repeatable; port 0 picks a free port "
       "(default 127.0.0.1:7667)",
       [](ServerConfig& c, const std::string& v) {
         std::string error;
         auto address = parse_address(v, error);
         if (!address) throw UsageError{"--listen '" + v + "': " + error};
         c.listen.push_back(*address);
       }},
      {"--max-line", "BYTES", "longest request line, LF excluded (default 65536)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.max_line = number("--max-line", v, 256, 16u << 20);
       }},
      {"--max-text", "BYTES", "longest text, topic or reason in UTF-8 bytes (default 4096)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.max_text = number("--max-text", v, 1, 16u << 20);
       }},
      {"--history", "N", "messages kept per channel (default 100)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.history = number("--history", v, 0, 1000000);
       }},
      {"--max-channels", "N", "channels one user may be in (default 100)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.max_channels = number("--max-channels", v, 1, 100000);
       }},
      {"--rate", "N",
       "requests per second per connection before rate_limited; 0 = unlimited (default 1000)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.rate.per_second = number("--rate", v, 0, 1000000);
       }},
      {"--burst", "N", "requests a connection may send at once above --rate (default 2000)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.rate.burst = number("--burst", v, 1, 1000000);
       }},
      {"--flood-limit", "N",
       "requests refused by --rate in a row before the connection is closed; 0 = never (default 1000)",
       [](ServerConfig& c, const std::string& v) {
         c.limits.flood_limit = number("--flood-limit", v, 0, 1000000000);
       }},
      {"--idle-timeout", "SECONDS", "close a connection silent this long (default 120)",
       [](ServerConfig& c, const std::string& v) {
         c.idle_timeout_s = static_cast<unsigned>(number("--idle-timeout", v, 2, 86400));
       }},
      {"--ping-interval", "SECONDS",
       "send a ping event after this much silence; at most idle-timeout/2 (default 25)",
       [](ServerConfig& c, const std::string& v) {
         c.ping_interval_s = static_cast<unsigned>(number("--ping-interval", v, 1, 86400));
       }},
      {"--max-clients", "N", "open connections at most; the next gets server_full (default 10000)",
       [](ServerConfig& c, const std::string& v) {
         c.max_clients = number("--max-clients", v, 1, 10000000);
       }},
      {"--max-conns-per-ip", "N",
       "open connections from one IP address at most; the next gets server_full; 0 = no limit;"
       " Unix-socket clients are exempt (default 1000)",
       [](ServerConfig& c, const std::string& v) {
         c.max_conns_per_ip = number("--max-conns-per-ip", v, 0, 10000000);
       }},
      {"--max-pending", "BYTES",
       "unsent events past which a connection is dropped as slow_consumer (default 1048576)",
       [](ServerConfig& c, const std::string& v) {
         c.max_pending = number("--max-pending", v, 1024, 1ull << 32);
       }},
      {"--drain-timeout", "SECONDS",
       "on SIGTERM/SIGINT, how long to flush before closing anyway (default 10)",
       [](ServerConfig& c, const std::string& v) {
         c.drain_timeout_s = static_cast<unsigned>(number("--drain-timeout", v, 1, 3600));
       }},
      {"--shutdown-retry-ms", "MS", "retry_ms told to clients when draining (default 2000)",
       [](ServerConfig& c, const std::string& v) {
         c.shutdown_retry_ms = static_cast<unsigned>(number("--shutdown-retry-ms", v, 0, 3600000));
       }},
      {"--proxy-protocol", nullptr,
       "expect a PROXY v1/v2 header on every TCP connection (behind HAProxy etc.; default off)",
       [](ServerConfig& c, const std::string&) { c.proxy_protocol = true; }},
      {"--auth-token-file", "PATH", "require hello's token to equal the first line of PATH (default: none)",
       [](ServerConfig& c, const std::string& v) {
         c.auth_token_file = v;
         c.auth_token = read_token(v);
       }},
      {"--log-level", "LEVEL", "error, warn, info or debug (default info)",
       [](ServerConfig& c, const std::string& v) {
         if (v == "error") c.log_level = LogLevel::error;
         else if (v == "warn") c.log_level = LogLevel::warn;
         else if (v == "info") c.log_level = LogLevel::info;
         else if (v == "debug") c.log_level = LogLevel::debug;
         else throw UsageError{"--log-level takes error, warn, info or debug, not '" + v + "'"};
       }},
  };
  return table;
}

const Flag* find_flag(const std::string& name) {
  for (const Flag& f : flags())
    if (name == f.name) return &f;
  return nullptr;
}

void check_consistency(ServerConfig& c) {
  if (c.limits.max_text > c.limits.max_line)
    throw UsageError{"--max-text (" + std::to_string(c.limits.max_text) +
                     ") cannot exceed --max-line (" + std::to_string(c.limits.max_line) + ")"};
  c.ping_interval_s = std::min(c.ping_interval_s, c.idle_timeout_s / 2);
  if (c.listen.empty()) {
    std::string unused;
    c.listen.push_back(*parse_address("127.0.0.1:7667", unused));
  }
}

}  // namespace

std::string help_text() {
  std::ostringstream out;
  out << "usage: parleyd [FLAGS]\n\n"
         "Parley chat server: newline-framed JSON over TCP and Unix sockets.\n\n";
  for (const Flag& f : flags()) {
    std::string left = std::string(f.name) + (f.arg ? std::string(" ") + f.arg : "");
    out << "  " << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << f.help
        << "\n";
  }
  out << "  --version                 print the version and exit\n"
         "  --help                    print this help and exit\n\n"
         "Exit status: 0 after a drain, 1 when a listen address cannot be used, 2 on bad flags.\n";
  return out.str();
}

CliResult parse_command_line(const std::vector<std::string>& args) {
  CliResult result;
  ServerConfig config;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string name = args[i];
      std::optional<std::string> value;
      if (const std::size_t eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (name == "--help" || name == "-h") {
        result.output = help_text();
        return result;
      }
      if (name == "--version") {
        result.output = std::string("parleyd ") + PARLEY_VERSION + " (protocol 1)\n";
        return result;
      }
      const Flag* flag = find_flag(name);
      if (!flag) throw UsageError{"unknown flag '" + name + "' (see --help)"};
      if (flag->arg && !value) {
        if (i + 1 >= args.size()) throw UsageError{name + " needs a value " + flag->arg};
        value = args[++i];
      }
      if (!flag->arg && value) throw UsageError{name + " takes no value"};
      flag->apply(config, value.value_or(""));
    }
    check_consistency(config);
  } catch (const UsageError& e) {
    result.exit_code = 2;
    result.output = "parleyd: " + e.message + "\n";
    return result;
  }
  result.config = std::move(config);
  return result;
}

}  // namespace parley
