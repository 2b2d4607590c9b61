#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "parley/parleyd/cli.hpp"

using namespace parley;

namespace {
CliResult parse(std::vector<std::string> args) { return parse_command_line(args); }
}  // namespace

TEST_CASE("cli: no flags give ServerConfig{} and the default listen address") {
  CliResult r = parse({});
  REQUIRE(r.config);
  const ServerConfig defaults;
  REQUIRE(r.config->listen.size() == 1);
  CHECK(r.config->listen[0].text() == default_listen);
  CHECK(r.config->limits.max_line == defaults.limits.max_line);
  CHECK(r.config->limits.max_text == defaults.limits.max_text);
  CHECK(r.config->limits.history == defaults.limits.history);
  CHECK(r.config->limits.max_channels == defaults.limits.max_channels);
  CHECK(r.config->limits.rate.per_second == defaults.limits.rate.per_second);
  CHECK(r.config->limits.rate.burst == defaults.limits.rate.burst);
  CHECK(r.config->limits.flood_limit == defaults.limits.flood_limit);
  CHECK(r.config->idle_timeout_s == defaults.idle_timeout_s);
  CHECK(r.config->ping_interval_s == defaults.ping_interval_s);
  CHECK(r.config->max_clients == defaults.max_clients);
  CHECK(r.config->max_conns_per_ip == defaults.max_conns_per_ip);
  CHECK(r.config->max_pending == defaults.max_pending);
  CHECK(r.config->drain_timeout_s == defaults.drain_timeout_s);
  CHECK(r.config->shutdown_retry_ms == defaults.shutdown_retry_ms);
  CHECK(r.config->proxy_protocol == defaults.proxy_protocol);
  CHECK_FALSE(r.config->auth_token);
  CHECK(r.config->log_level == defaults.log_level);
}

TEST_CASE("cli: --help prints each flag's default from ServerConfig{}") {
  const std::string help = help_text();
  const ServerConfig defaults;
  CHECK(help.find("--max-line BYTES") != std::string::npos);
  CHECK(help.find("(default " + std::to_string(defaults.limits.max_line) + ")") != std::string::npos);
  CHECK(help.find("(default " + std::string(default_listen) + ")") != std::string::npos);
  for (const FlagInfo& flag : flag_table()) {
    const std::string left = flag.arg.empty() ? flag.name : flag.name + " " + flag.arg;
    const auto at = help.find("  " + left + " ");
    REQUIRE_MESSAGE(at != std::string::npos, flag.name);
    const std::string line = help.substr(at, help.find('\n', at) - at);
    CHECK_MESSAGE(line.ends_with(" (default " + flag.default_value + ")"), line);
  }
  // A value a flag was given reads back as that flag's value.
  CliResult r = parse({"--rate", "7", "--log-level", "debug"});
  REQUIRE(r.config);
  CHECK(r.config->limits.rate.per_second == 7);
  CHECK(r.config->log_level == LogLevel::debug);
}

TEST_CASE("cli: values, --flag=value, repeated --listen") {
  CliResult r = parse({"--listen", "[::1]:0", "--listen=unix:/tmp/x.sock", "--history=0",
                       "--max-line", "256", "--max-text", "256", "--proxy-protocol"});
  REQUIRE(r.config);
  CHECK(r.config->listen[0].address.host == "::1");
  CHECK(r.config->listen[0].address.text() == "[::1]:0");
  CHECK(r.config->listen[1].address.path == "/tmp/x.sock");
  CHECK(r.config->limits.history == 0);
  CHECK(r.config->limits.max_line == 256);
  CHECK(r.config->proxy_protocol);
}

TEST_CASE("cli: ,proxy belongs to its listener alone") {
  CliResult r = parse({"--listen", "127.0.0.1:0,proxy", "--listen", "127.0.0.1:0", "--listen=unix:/tmp/p.sock,proxy"});
  REQUIRE(r.config);
  REQUIRE(r.config->listen.size() == 3);
  CHECK(r.config->listen[0].proxy);
  CHECK_FALSE(r.config->listen[1].proxy);
  CHECK(r.config->listen[2].proxy);
  CHECK_FALSE(r.config->proxy_protocol);
  CliResult bad = parse({"--listen", "127.0.0.1:0,tls"});
  CHECK(bad.exit_code == 2);
  CHECK_FALSE(bad.config);
  CHECK(bad.output.find("--listen '127.0.0.1:0,tls': unknown option 'tls'") != std::string::npos);
  CHECK(parse({"--listen", "127.0.0.1:0,"}).exit_code == 2);
}

TEST_CASE("cli: --proxy-protocol makes every TCP listener a proxy listener, Unix ones as given") {
  CliResult r = parse({"--proxy-protocol", "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--listen",
                       "unix:/tmp/a.sock", "--listen", "unix:/tmp/b.sock,proxy"});
  REQUIRE(r.config);
  REQUIRE(r.config->listen.size() == 4);
  CHECK(r.config->listen[0].proxy);
  CHECK(r.config->listen[1].proxy);
  CHECK_FALSE(r.config->listen[2].proxy);
  CHECK(r.config->listen[3].proxy);
  // The default listener too, and wherever the switch stands among the flags.
  CliResult alone = parse({"--proxy-protocol"});
  REQUIRE(alone.config);
  REQUIRE(alone.config->listen.size() == 1);
  CHECK(alone.config->listen[0].proxy);
  CHECK(alone.config->listen[0].address.text() == default_listen);
  CHECK_FALSE(parse({}).config->listen[0].proxy);
}

TEST_CASE("cli: --trusted-proxy takes address blocks, repeatable; by default any source") {
  CHECK(parse({}).config->trusted_proxies.empty());
  CliResult r = parse({"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy=::1"});
  REQUIRE(r.config);
  REQUIRE(r.config->trusted_proxies.size() == 2);
  CHECK(r.config->trusted_proxies[0].contains("10.1.2.3"));
  CHECK(r.config->trusted_proxies[1].text() == "::1");
  CliResult bad = parse({"--trusted-proxy", "10.0.0.0/33"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--trusted-proxy '10.0.0.0/33'") != std::string::npos);
  CliResult any = parse({"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "any"});  // the default, said out loud
  REQUIRE(any.config);
  CHECK(any.config->trusted_proxies.empty());
}

TEST_CASE("cli: ping interval is lowered to half the idle timeout") {
  CHECK(parse({"--idle-timeout", "10"}).config->ping_interval_s == 5);
  CHECK(parse({"--idle-timeout", "2", "--ping-interval", "30"}).config->ping_interval_s == 1);
  CHECK(parse({"--idle-timeout", "100", "--ping-interval", "7"}).config->ping_interval_s == 7);
}

TEST_CASE("cli: bounds are inclusive, one past is exit 2") {
  CHECK(parse({"--max-line", "256", "--max-text", "200"}).config);
  CHECK(parse({"--max-line", "256"}).exit_code == 2);  // max-text 4096 would not fit
  CHECK(parse({"--max-line", "255", "--max-text", "200"}).exit_code == 2);
  CHECK(parse({"--idle-timeout", "2"}).config);
  CHECK(parse({"--idle-timeout", "1"}).exit_code == 2);
  CHECK(parse({"--max-pending", "1024"}).config);
  CHECK(parse({"--max-pending", "1023"}).exit_code == 2);
  CHECK(parse({"--drain-timeout", "0"}).exit_code == 2);
  CHECK(parse({"--max-clients", "0"}).exit_code == 2);
  CHECK(parse({"--max-channels", "100001"}).exit_code == 2);
  CHECK(parse({"--max-line", "12x"}).exit_code == 2);
  CHECK(parse({"--max-line", ""}).exit_code == 2);
  CHECK(parse({"--proxy-protocol=yes"}).exit_code == 2);
  CliResult bad = parse({"--listen", "localhost"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--listen 'localhost'") != std::string::npos);
  CHECK(parse({"--auth-token-file", "/nonexistent/token"}).exit_code == 2);
}

TEST_CASE("cli: --help and --version exit 0 with text") {
  CliResult help = parse({"--help"});
  CHECK_FALSE(help.config);
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("--max-pending BYTES") != std::string::npos);
  CHECK(parse({"--version"}).output.starts_with("parleyd "));
}

TEST_CASE("addresses") {
  std::string error;
  CHECK(parse_address("0.0.0.0:7667", error)->port == 7667);
  CHECK(parse_address("localhost:0", error)->host == "localhost");
  CHECK_FALSE(parse_address("host:65536", error));
  CHECK_FALSE(parse_address(":80", error));
  CHECK_FALSE(parse_address("::1:80", error));
  CHECK_FALSE(parse_address("unix:", error));
  CHECK_FALSE(parse_address("unix:" + std::string(108, 'p'), error));
  CHECK(parse_address("unix:" + std::string(107, 'p'), error));
}

TEST_CASE("addresses are written back with IPv6 hosts in brackets") {
  CHECK(join_host_port("127.0.0.1", 80) == "127.0.0.1:80");
  CHECK(join_host_port("::1", 7667) == "[::1]:7667");
  const unsigned char v4[4] = {10, 0, 0, 7};
  CHECK(format_ip_port(AF_INET, v4, 5) == "10.0.0.7:5");
  sockaddr_storage storage{};
  auto& a6 = reinterpret_cast<sockaddr_in6&>(storage);
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(443);
  a6.sin6_addr.s6_addr[15] = 1;
  CHECK(format_socket_address(storage) == "[::1]:443");
  storage.ss_family = AF_UNIX;
  CHECK(format_socket_address(storage).empty());
}

// docs/operations.md's flag table against parleyd's: the Markdown table under
// "## Flags, limits and defaults" with the columns `flag` (one or more
// `--name ARG` in backquotes), `default` (backquotes optional) and `range`
// ("MIN – MAX", numbers with optional thousands commas and a KiB/MiB/GiB
// unit, or another flag's name without its dashes as MAX).
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The cells of one "| a | b |" row; "\|" stays in its cell.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (std::size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (row[i] == '|') {
      out.push_back(trim(cell));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

std::string strip_backquotes(std::string s) {
  std::erase(s, '`');
  return trim(s);
}

// The `...` spans of a cell.
std::vector<std::string> quoted(const std::string& cell) {
  std::vector<std::string> out;
  for (auto open = cell.find('`'); open != std::string::npos; open = cell.find('`', open + 1)) {
    const auto close = cell.find('`', open + 1);
    if (close == std::string::npos) break;
    out.push_back(cell.substr(open + 1, close - open - 1));
    open = close;
  }
  return out;
}

// "1,000,000" -> 1000000, "16 MiB" -> 16777216; nullopt if not a number.
std::optional<unsigned long long> doc_number(std::string text) {
  text = trim(text);
  std::erase(text, ',');
  constexpr std::pair<std::string_view, unsigned long long> units[] = {
      {" KiB", 1ull << 10}, {" MiB", 1ull << 20}, {" GiB", 1ull << 30}};
  unsigned long long scale = 1;
  for (const auto& [unit, factor] : units)
    if (text.ends_with(unit)) {
      scale = factor;
      text.resize(text.size() - unit.size());
    }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(text) * scale;
}

struct DocFlag {
  std::string arg;
  std::string default_value;
  std::string range;
};

std::map<std::string, DocFlag> documented_flags() {
  const char* root = std::getenv("SOURCE_ROOT");
  REQUIRE_MESSAGE(root, "SOURCE_ROOT is not set (meson test sets it)");
  std::ifstream in(std::string(root) + "/docs/operations.md");
  REQUIRE(in);
  std::map<std::string, DocFlag> out;
  std::string line;
  bool in_section = false;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) in_section = line == "## Flags, limits and defaults";
    if (!in_section || !line.starts_with("|")) continue;
    std::vector<std::string> row = cells(line);
    if (header.empty()) {
      header = row;
      continue;
    }
    if (row.front().starts_with("---")) continue;
    const auto column = [&](const char* name) {
      const auto at = std::find(header.begin(), header.end(), name);
      REQUIRE_MESSAGE(at != header.end(), "operations.md's flag table has no column '" << name << "'");
      const auto i = static_cast<std::size_t>(at - header.begin());
      return i < row.size() ? row[i] : std::string();
    };
    const std::vector<std::string> names = quoted(column("flag"));
    CHECK_MESSAGE(!names.empty(), "a row without a `--flag`: " << line);
    for (const std::string& name : names) {
      const auto space = name.find(' ');
      DocFlag flag{space == std::string::npos ? "" : name.substr(space + 1), strip_backquotes(column("default")),
                   column("range")};
      CHECK_MESSAGE(out.emplace(name.substr(0, space), flag).second, "listed twice: " << name);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("cli: docs/operations.md lists every flag with parleyd's default and range") {
  const std::map<std::string, DocFlag> doc = documented_flags();
  REQUIRE(doc.size() > 10);
  std::map<std::string, FlagInfo> table;
  for (const FlagInfo& flag : flag_table()) table.emplace(flag.name, flag);

  for (const auto& [name, flag] : table) {
    INFO("flag " << name);
    const auto it = doc.find(name);
    REQUIRE_MESSAGE(it != doc.end(), "not in docs/operations.md");
    const DocFlag& documented = it->second;
    CHECK(documented.arg == flag.arg);
    CHECK(documented.default_value == flag.default_value);
    if (!flag.range) continue;
    const auto dash = documented.range.find(" – ");
    REQUIRE_MESSAGE(dash != std::string::npos, "range '" << documented.range << "' is not MIN – MAX");
    CHECK(doc_number(documented.range.substr(0, dash)) == flag.range->first);
    const std::string max = trim(documented.range.substr(dash + std::string(" – ").size()));
    if (const auto n = doc_number(max))
      CHECK(*n == flag.range->second);
    else
      CHECK_MESSAGE(table.contains("--" + max), "range's upper end '" << max << "' is neither a number nor a flag");
  }
  // And nothing the doc lists is missing from parleyd: --help and --version,
  // which are not in the table, exit 0 with their text.
  for (const auto& [name, documented] : doc) {
    INFO("documented flag " << name);
    if (table.contains(name)) continue;
    const CliResult r = parse({name});
    CHECK_FALSE(r.config);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(r.output.empty());
    CHECK(documented.default_value.empty());
  }
}
