#include "parley/cluster/redis_address.hpp"

#include "parley/socket/address.hpp"

namespace parley::cluster {
namespace {

constexpr std::string_view tcp_scheme = "redis://";
constexpr std::string_view unix_scheme = "redis+unix://";
constexpr std::string_view forms = "expected redis://HOST[:PORT] or redis+unix:///PATH";

std::optional<RedisAddress> fail(std::string& error, std::string message) {
  error = std::move(message);
  return std::nullopt;
}

// 1..65535: port 0 means "any" to bind(), nothing to connect().
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > max_port) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// `rest` is what follows "redis+unix://": an empty host, then the path.
std::optional<RedisAddress> parse_unix(std::string_view rest, std::string& error) {
  if (!rest.starts_with('/'))
    return fail(error, "redis+unix:// takes no host, only an absolute path: redis+unix:///PATH");
  if (rest.size() > max_unix_path)
    return fail(error, "unix socket path is longer than " + std::to_string(max_unix_path) + " bytes");
  RedisAddress address;
  address.unix_socket = true;
  address.path = std::string(rest);
  return address;
}

// `rest` is what follows "redis://": HOST, HOST:PORT, [V6] or [V6]:PORT.
std::optional<RedisAddress> parse_tcp(std::string_view rest, std::string& error) {
  if (rest.find('@') != std::string_view::npos)
    return fail(error, "user:password@ in a Redis URL is not supported yet");
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return fail(error, "a Redis URL here is redis://HOST[:PORT], with no database, path or options after it");
  RedisAddress address;
  std::string_view host = rest, port;
  if (rest.starts_with('[')) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail(error, "missing ']' after an IPv6 address");
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':'))
      return fail(error, "expected ':PORT' after the ']' of an IPv6 address");
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) return fail(error, "missing port after ':'");
  } else {
    const std::size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      if (rest.find(':', colon + 1) != std::string_view::npos)
        return fail(error, "an IPv6 address goes in brackets: redis://[::1]:6379");
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return fail(error, "missing port after ':'");
    }
  }
  if (host.empty()) return fail(error, "missing host in the Redis URL");
  address.host = std::string(host);
  if (!port.empty()) {
    const auto value = parse_port(port);
    if (!value) return fail(error, "port must be a number from 1 to " + std::to_string(max_port));
    address.port = *value;
  }
  return address;
}

}  // namespace

std::string RedisAddress::to_string() const {
  if (unix_socket) return std::string(unix_scheme) + path;
  return std::string(tcp_scheme) + join_host_port(host, port);
}

std::optional<RedisAddress> parse_redis_url(std::string_view url, std::string& error) {
  if (url.starts_with(tcp_scheme)) return parse_tcp(url.substr(tcp_scheme.size()), error);
  if (url.starts_with(unix_scheme)) return parse_unix(url.substr(unix_scheme.size()), error);
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return fail(error, std::string(forms));
  const std::string scheme(url.substr(0, scheme_end));
  if (scheme == "rediss") return fail(error, "rediss:// (Redis over TLS) is not supported");
  return fail(error, "unsupported scheme '" + scheme + "://': " + std::string(forms));
}

}  // namespace parley::cluster
