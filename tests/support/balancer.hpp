// Debian's HAProxy (and nginx's stream proxy), started by a test in the
// foreground with a config the test hands over (docs/deploy.md's, adapted by
// doc_blocks.hpp's substitute()), and HAProxy's runtime API (the stats
// socket) to see what it thinks of its servers. Integration tests include it
// as "balancer.hpp".
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
  // `config` is a whole haproxy.cfg. ADDRESS in it is replaced by the
  // address HAProxy is to listen on (127.0.0.1 and a free port), and
  // STATS_SOCKET by a path in the balancer's own directory, where `global`
  // must put the stats socket (`stats socket STATS_SOCKET ... level admin`)
  // for command(). REQUIREs that HAProxy is installed, takes the config and
  // listens within 10 s.
  explicit Balancer(const std::string& config);
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
  // `stream` is the config's `stream { ... }` block, whole; ADDRESS in it is
  // replaced as for Balancer. The rest of nginx.conf (the module, the
  // foreground, the pid file and the error log) is the test's own.
  // REQUIREs that nginx and the module are installed and that it starts
  // listening within 10 s.
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
