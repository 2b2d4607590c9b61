// Debian's HAProxy (and nginx's stream proxy), started by a test in the foreground with a config the
// test writes, and its runtime API (the stats socket) to see what it thinks
// of its servers. Integration tests include it as "balancer.hpp".
#pragma once

#include <map>
#include <optional>
#include <string>

#include "harness.hpp"

namespace parley::test {

// /usr/sbin/haproxy (or /usr/bin/haproxy); "" when it is not installed.
std::string haproxy_path();

class Balancer {
 public:
  // `sections` is the config after `global` and `defaults` (frontends and
  // backends); ADDRESS in it is replaced by the address HAProxy listens on,
  // 127.0.0.1 and a free port. `global` has one thread, so the stats are
  // one consistent picture, and the stats socket in the balancer's own
  // directory. REQUIREs that HAProxy is installed and starts listening
  // within 10 s.
  explicit Balancer(const std::string& sections);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  const std::string& address() const { return address_; }
  const std::string& config() const { return config_; }

  // One command on the stats socket, answered whole ("show stat", ...).
  std::string command(const std::string& line);
  // `show stat`'s row for `server` of `backend`: field name -> value
  // ("status", "check_status", "scur", "stot", ...). Empty when no such row.
  std::map<std::string, std::string> server_stats(const std::string& backend, const std::string& server);

 private:
  std::string dir_;
  std::string address_;
  std::string config_;
  std::optional<ChildProcess> process_;
};

// /usr/sbin/nginx with its stream module (Debian's libnginx-mod-stream),
// one process in the foreground, its error log in its own directory.
class NginxStream {
 public:
  // `stream` is the body of the config's `stream {}` block; ADDRESS in it is
  // replaced as for Balancer. REQUIREs that nginx and the module are
  // installed and that it starts listening within 10 s.
  explicit NginxStream(const std::string& stream);
  ~NginxStream();
  NginxStream(const NginxStream&) = delete;
  NginxStream& operator=(const NginxStream&) = delete;

  const std::string& address() const { return address_; }
  const std::string& config() const { return config_; }
  std::string error_log() const;

 private:
  std::string dir_;
  std::string address_;
  std::string config_;
  std::optional<ChildProcess> process_;
};

}  // namespace parley::test
