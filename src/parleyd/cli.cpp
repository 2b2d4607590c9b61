#include "parley/parleyd/cli.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <type_traits>

#include "parley_version.h"

namespace parley {
namespace {

struct UsageError {
  std::string message;
};

struct Range {
  unsigned long long min, max;
};

unsigned long long number(const std::string& flag, const std::string& value, Range range) {
  unsigned long long n = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec != std::errc() || ptr != end || n < range.min || n > range.max)
    throw UsageError{flag + " takes a whole number from " + std::to_string(range.min) + " to " +
                     std::to_string(range.max) + ", not '" + value + "'"};
  return n;
}

struct Flag {
  const char* name;
  const char* arg;  // nullptr for switches
  std::string help;  // without the default, which help_text() appends from ServerConfig{}
  std::function<void(ServerConfig&, const std::string&)> apply;
  std::function<std::string(const ServerConfig&)> show;  // the value as --help prints it
  std::optional<Range> range = std::nullopt;
};

// A flag that sets one whole-number field; `field` is a generic lambda
// returning a reference to it, so the same accessor reads and writes.
template <typename Field>
Flag number_flag(const char* name, const char* arg, Range range, std::string help, Field field) {
  return {name, arg, std::move(help),
          [name, range, field](ServerConfig& c, const std::string& v) {
            auto& target = field(c);
            target = static_cast<std::remove_reference_t<decltype(target)>>(number(name, v, range));
          },
          [field](const ServerConfig& c) { return std::to_string(field(c)); }, range};
}

// SECONDS with up to three decimals ("5", "0.25"), in milliseconds.
std::uint64_t milliseconds(const std::string& flag, const std::string& value, Range seconds) {
  const std::size_t dot = value.find('.');
  const std::string whole = value.substr(0, dot);
  const std::string fraction = dot == std::string::npos ? "" : value.substr(dot + 1);
  unsigned long long s = 0, f = 0;
  const auto parsed = [](const std::string& digits, unsigned long long& n) {
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return !digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size();
  };
  const bool ok = parsed(whole, s) && (dot == std::string::npos || (fraction.size() <= 3 && parsed(fraction, f)));
  const std::uint64_t ms = s * 1000 + f * (fraction.size() == 1 ? 100 : fraction.size() == 2 ? 10 : 1);
  if (!ok || s > seconds.max || ms < seconds.min * 1000 || ms > seconds.max * 1000)
    throw UsageError{flag + " takes seconds from " + std::to_string(seconds.min) + " to " +
                     std::to_string(seconds.max) + " (up to three decimals), not '" + value + "'"};
  return ms;
}

// "5" for 5000 ms, "0.25" for 250.
std::string seconds_text(std::uint64_t ms) {
  std::string out = std::to_string(ms / 1000);
  if (const std::uint64_t rest = ms % 1000) {
    char digits[8];
    std::snprintf(digits, sizeof digits, ".%03u", static_cast<unsigned>(rest));
    out += digits;
    while (out.back() == '0') out.pop_back();
  }
  return out;
}

// A flag that sets a duration in milliseconds, given in seconds.
template <typename Field>
Flag seconds_flag(const char* name, Range seconds, std::string help, Field field) {
  return {name, "SECONDS", std::move(help),
          [name, seconds, field](ServerConfig& c, const std::string& v) { field(c) = milliseconds(name, v, seconds); },
          [field](const ServerConfig& c) { return seconds_text(field(c)); }, seconds};
}

// A name that goes into Redis keys and the backplane's headers: 1 to 64 of
// A-Z a-z 0-9 . _ -.
std::string key_word(const std::string& flag, const std::string& value) {
  const bool ok = !value.empty() && value.size() <= 64 &&
                  std::all_of(value.begin(), value.end(), [](unsigned char ch) {
                    return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
                  });
  if (!ok) throw UsageError{flag + " takes 1 to 64 of A-Z a-z 0-9 . _ -, not '" + value + "'"};
  return value;
}

// One address block of a repeatable CIDR flag.
Cidr cidr_argument(const std::string& flag, const std::string& value) {
  std::string error;
  std::optional<Cidr> cidr = parse_cidr(value, error);
  if (!cidr) throw UsageError{flag + " '" + value + "': " + error};
  return *cidr;
}

// The blocks as --help shows them, comma-separated; `none` when there are none.
std::string cidr_list_text(const std::vector<Cidr>& blocks, const char* none) {
  std::string out;
  for (const Cidr& block : blocks) out += (out.empty() ? "" : ",") + block.text();
  return out.empty() ? std::string(none) : out;
}

constexpr unsigned long long max_line_ceiling = 16u << 20;

struct LevelName {
  const char* name;
  LogLevel level;
};

constexpr LevelName level_names[] = {
    {"error", LogLevel::error}, {"warn", LogLevel::warn}, {"info", LogLevel::info}, {"debug", LogLevel::debug}};

// "error, warn, info or debug"
std::string level_choices() {
  std::string out;
  for (std::size_t i = 0; i < std::size(level_names); ++i)
    out += std::string(i == 0 ? "" : i + 1 == std::size(level_names) ? " or " : ", ") + level_names[i].name;
  return out;
}

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
       "listen on HOST:PORT, [IPV6]:PORT or unix:PATH, and with ',proxy' after it expect a PROXY v1/v2"
       " header first there; repeatable; port 0 picks a free port",
       [](ServerConfig& c, const std::string& v) {
         std::string error;
         auto spec = parse_listen_spec(v, error);
         if (!spec) throw UsageError{"--listen '" + v + "': " + error};
         c.listen.push_back(*spec);
       },
       [](const ServerConfig& c) {
         if (c.listen.empty()) return std::string(default_listen);
         std::string out;
         for (const ListenSpec& l : c.listen) out += (out.empty() ? "" : " ") + l.text();
         return out;
       }},
      number_flag("--max-line", "BYTES", {256, max_line_ceiling}, "longest request line, LF excluded",
                  [](auto& c) -> auto& { return c.limits.max_line; }),
      number_flag("--max-text", "BYTES", {1, max_line_ceiling},
                  "longest text, topic or reason in UTF-8 bytes; at most --max-line",
                  [](auto& c) -> auto& { return c.limits.max_text; }),
      number_flag("--history", "N", {0, 1000000}, "messages kept per channel",
                  [](auto& c) -> auto& { return c.limits.history; }),
      number_flag("--max-channels", "N", {1, 100000}, "channels one user may be in",
                  [](auto& c) -> auto& { return c.limits.max_channels; }),
      number_flag("--rate", "N", {0, 1000000},
                  "requests per second per connection before rate_limited; 0 = unlimited",
                  [](auto& c) -> auto& { return c.limits.rate.per_second; }),
      number_flag("--burst", "N", {1, 1000000}, "requests a connection may send at once above --rate",
                  [](auto& c) -> auto& { return c.limits.rate.burst; }),
      number_flag("--flood-limit", "N", {0, 1000000000},
                  "requests refused by --rate in a row before the connection is closed; 0 = never",
                  [](auto& c) -> auto& { return c.limits.flood_limit; }),
      number_flag("--idle-timeout", "SECONDS", {2, 86400}, "close a connection silent this long",
                  [](auto& c) -> auto& { return c.idle_timeout_s; }),
      number_flag("--ping-interval", "SECONDS", {1, 86400},
                  "send a ping event after this much silence; at most idle-timeout/2",
                  [](auto& c) -> auto& { return c.ping_interval_s; }),
      number_flag("--max-clients", "N", {1, 10000000}, "open connections at most; the next gets server_full",
                  [](auto& c) -> auto& { return c.max_clients; }),
      number_flag("--max-conns-per-ip", "N", {0, 10000000},
                  "open connections from one IP address at most; the next gets server_full; 0 = no limit;"
                  " Unix-socket clients are exempt",
                  [](auto& c) -> auto& { return c.max_conns_per_ip; }),
      {"--conn-limit-exempt", "CIDR",
       "never count clients from this address block against --max-conns-per-ip; repeatable; none = no block",
       [](ServerConfig& c, const std::string& v) {
         if (!c.conn_limit_exempt_given) c.conn_limit_exempt.clear();
         c.conn_limit_exempt_given = true;
         if (v == "none") return;
         c.conn_limit_exempt.push_back(cidr_argument("--conn-limit-exempt", v));
       },
       [](const ServerConfig& c) { return cidr_list_text(c.conn_limit_exempt, "none"); }},
      number_flag("--max-pending", "BYTES", {1024, 1ull << 32},
                  "unsent events past which a connection is dropped as slow_consumer",
                  [](auto& c) -> auto& { return c.max_pending; }),
      number_flag("--resume-grace", "SECONDS", {0, 86400},
                  "hold a session whose connection closed without quit this long for a resume; 0 = never",
                  [](auto& c) -> auto& { return c.resume_grace_s; }),
      number_flag("--max-held", "N", {1, 100000000},
                  "held sessions at most (a cluster's whole, in a cluster); past it the oldest ends at once",
                  [](auto& c) -> auto& { return c.max_held_sessions; }),
      {"--node-id", "NAME",
       "this server's name in hello's server.node and in the backplane (logs, debugging behind a balancer)",
       [](ServerConfig& c, const std::string& v) {
         c.node_id = key_word("--node-id", v);
       },
       [](const ServerConfig& c) { return c.node_id.empty() ? std::string("the host name") : c.node_id; }},
      {"--cluster", "URL",
       "share the chat with every server on this Redis: redis://HOST:PORT or redis+unix:///PATH (docs/cluster.md)",
       [](ServerConfig& c, const std::string& v) {
         if (v.rfind("redis://", 0) != 0 && v.rfind("redis+unix://", 0) != 0)
           throw UsageError{"--cluster takes redis://HOST:PORT or redis+unix:///PATH, not '" + v + "'"};
         c.cluster = v;
       },
       [](const ServerConfig& c) { return c.cluster.empty() ? std::string("none: a server on its own") : c.cluster; }},
      {"--cluster-prefix", "NAME", "the cluster's name in Redis: every key and channel starts with it",
       [](ServerConfig& c, const std::string& v) { c.cluster_prefix = key_word("--cluster-prefix", v); },
       [](const ServerConfig& c) { return c.cluster_prefix; }},
      seconds_flag("--node-lease", {1, 3600},
                   "in a cluster, a server that cannot reach Redis this long loses its sessions to the others",
                   [](auto& c) -> auto& { return c.node_lease_ms; }),
      seconds_flag("--cluster-timeout", {0, 60},
                   "in a cluster, how long one Redis command or connect may take (at least 0.05)",
                   [](auto& c) -> auto& { return c.cluster_timeout_ms; }),
      number_flag("--pipeline-depth", "N", {1, 4096},
                  "in a cluster, requests of one connection sent to Redis before the first is answered",
                  [](auto& c) -> auto& { return c.pipeline_depth; }),
      number_flag("--cluster-max-in-flight", "N", {1, 1000000},
                  "in a cluster, Redis commands awaiting replies at most; more are answered unavailable",
                  [](auto& c) -> auto& { return c.cluster_max_in_flight; }),
      number_flag("--cluster-batch", "N", {1, 4096},
                  "in a cluster, says of one loop turn for one channel sent to Redis as one call, at most",
                  [](auto& c) -> auto& { return c.cluster_batch; }),
      number_flag("--cluster-batch-bytes", "BYTES", {1024, 16777216},
                  "in a cluster, a batch of says is sent once its arguments reach this",
                  [](auto& c) -> auto& { return c.cluster_batch_bytes; }),
      number_flag("--drain-timeout", "SECONDS", {1, 3600},
                  "on SIGTERM/SIGINT, how long to flush before closing anyway",
                  [](auto& c) -> auto& { return c.drain_timeout_s; }),
      seconds_flag("--drain-grace", {0, 3600},
                   "on SIGTERM, how long clients told `shutdown` may take to leave by themselves",
                   [](auto& c) -> auto& { return c.drain_grace_ms; }),
      seconds_flag("--drain-window", {0, 3600},
                   "on SIGTERM after the grace, the span over which the rest are closed one by one",
                   [](auto& c) -> auto& { return c.drain_window_ms; }),
      number_flag("--shutdown-retry-ms", "MS", {0, 3600000}, "the middle of the retry_ms told to clients when draining (each gets 0.5-1.5x)",
                  [](auto& c) -> auto& { return c.shutdown_retry_ms; }),
      {"--proxy-protocol", nullptr,
       "expect a PROXY v1/v2 header on every TCP listener, as if each had ',proxy'",
       [](ServerConfig& c, const std::string&) { c.proxy_protocol = true; },
       [](const ServerConfig& c) { return std::string(c.proxy_protocol ? "on" : "off"); }},
      seconds_flag("--proxy-header-timeout", {1, 3600},
                   "how long a connection to a proxy listener may take to send its PROXY header; then bad_proxy_header",
                   [](auto& c) -> auto& { return c.proxy_header_timeout_ms; }),
      {"--trusted-proxy", "CIDR",
       "only TCP peers in this address block may send a PROXY header to a proxy listener (others get"
       " bad_proxy_header); repeatable; any = every source",
       [](ServerConfig& c, const std::string& v) {
         if (v == "any") return c.trusted_proxies.clear();  // the default, said out loud
         c.trusted_proxies.push_back(cidr_argument("--trusted-proxy", v));
       },
       [](const ServerConfig& c) { return cidr_list_text(c.trusted_proxies, "any"); }},
      {"--no-http", nullptr,
       "chat listeners speak NDJSON only: no web page at GET / and no WebSocket at GET /ws",
       [](ServerConfig& c, const std::string&) { c.http = false; },
       [](const ServerConfig& c) { return std::string(c.http ? "off" : "on"); }},
      number_flag("--http-max-header", "BYTES", {1024, 1048576},
                  "longest HTTP request line and headers on a chat listener; more gets 431",
                  [](auto& c) -> auto& { return c.http_max_header; }),
      seconds_flag("--http-timeout", {1, 3600}, "how long an HTTP request on a chat listener may take to arrive whole",
                   [](auto& c) -> auto& { return c.http_timeout_ms; }),
      seconds_flag("--ws-close-timeout", {0, 3600},
                   "how long a WebSocket client may take to answer the server's close frame",
                   [](auto& c) -> auto& { return c.ws_close_timeout_ms; }),
      {"--allowed-origin", "ORIGIN",
       "accept WebSocket upgrades only with this Origin (such as https://chat.example.com), or none;"
       " repeatable; others get 403",
       [](ServerConfig& c, const std::string& v) {
         if (v.empty() || v.find_first_of(" ,\r\n") != std::string::npos)
           throw UsageError{"--allowed-origin takes one origin such as https://chat.example.com, not '" + v + "'"};
         c.allowed_origins.push_back(v);
       },
       [](const ServerConfig& c) {
         std::string out;
         for (const std::string& o : c.allowed_origins) out += (out.empty() ? "" : ",") + o;
         return out.empty() ? std::string("any") : out;
       }},
      {"--auth-token-file", "PATH", "require hello's token to equal the first line of PATH",
       [](ServerConfig& c, const std::string& v) {
         c.auth_token_file = v;
         c.auth_token = read_token(v);
       },
       [](const ServerConfig& c) { return c.auth_token_file.empty() ? std::string("none") : c.auth_token_file; }},
      {"--admin", "ADDR",
       "serve /healthz, /readyz, /metrics and /connz over HTTP on HOST:PORT or unix:PATH (never a PROXY header)",
       [](ServerConfig& c, const std::string& v) {
         std::string error;
         auto address = parse_address(v, error);
         if (!address) throw UsageError{"--admin '" + v + "': " + error};
         c.admin = *address;
       },
       [](const ServerConfig& c) { return c.admin ? c.admin->text() : std::string("off"); }},
      number_flag("--admin-max-conns", "N", {1, 10000}, "admin HTTP connections at once; more are closed at accept",
                  [](auto& c) -> auto& { return c.admin_max_conns; }),
      number_flag("--admin-timeout", "SECONDS", {1, 3600},
                  "how long an admin connection may take to send each request whole",
                  [](auto& c) -> auto& { return c.admin_timeout_s; }),
      {"--log-level", "LEVEL", level_choices(),
       [](ServerConfig& c, const std::string& v) {
         for (const LevelName& l : level_names)
           if (v == l.name) {
             c.log_level = l.level;
             return;
           }
         throw UsageError{"--log-level takes " + level_choices() + ", not '" + v + "'"};
       },
       [](const ServerConfig& c) {
         for (const LevelName& l : level_names)
           if (c.log_level == l.level) return std::string(l.name);
         return std::string("?");
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
    c.listen.push_back(*parse_listen_spec(default_listen, unused));
    c.listen_defaulted = true;
  }
  // The old switch, kept as it was: every TCP listener, Unix ones as given.
  if (c.proxy_protocol)
    for (ListenSpec& l : c.listen)
      if (l.address.kind == Address::Kind::tcp) l.proxy = true;
}

}  // namespace

std::vector<FlagInfo> flag_table() {
  const ServerConfig defaults;
  std::vector<FlagInfo> out;
  for (const Flag& f : flags()) {
    FlagInfo info{f.name, f.arg ? f.arg : "", f.show(defaults), std::nullopt};
    if (f.range) info.range = std::pair(f.range->min, f.range->max);
    out.push_back(std::move(info));
  }
  return out;
}

std::string help_text() {
  const ServerConfig defaults;
  std::ostringstream out;
  out << "usage: parleyd [FLAGS]\n\n"
         "Parley chat server: newline-framed JSON over TCP and Unix sockets.\n\n";
  const auto line = [&out](const std::string& left, const std::string& help) {
    constexpr std::size_t column = 26;
    out << "  " << left << std::string(left.size() < column ? column - left.size() : 1, ' ') << help << "\n";
  };
  for (const Flag& f : flags())
    line(std::string(f.name) + (f.arg ? std::string(" ") + f.arg : ""),
         f.help + " (default " + f.show(defaults) + ")");
  line("--version", "print the version and exit");
  line("--help", "print this help and exit");
  out << "\nExit status: 0 after a drain, 1 when a listen address cannot be used, 2 on bad flags.\n";
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
