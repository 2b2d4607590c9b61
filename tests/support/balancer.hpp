// Debian's HAProxy (and nginx's stream proxy), started by a test in the
// foreground with a config the test hands over (docs/deploy.md's, adapted by
// doc_blocks.hpp's substitute()), and HAProxy's runtime API (the stats
// socket) to see what it thinks of its servers. Integration tests include it
// as "balancer.hpp".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

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

// A haproxy.cfg of docs/deploy.md, the block whose first line is
// `first_line` (section 3's, or section 10's for a cluster), read out of
// the page, for the instances `a` and `b` (without `b`: its server line
// dropped). Each server's chat port
// gets a PROXY v2 header, and its admin port's /readyz decides whether it
// takes new clients; the chat listeners take PROXY headers from the
// balancer's address alone (`,proxy` and --trusted-proxy). `retries` with
// `option redispatch 1` sends a connection refused by a server that has
// just closed its listener to the other one, before the check has noticed.
// Sessions of a server marked down are left alone (no `on-marked-down
// shutdown-sessions`): parleyd's drain spreads them out itself.
//
// The substitutions, which the page lists too (each must match, so the
// page cannot change without this test noticing):
// - the addresses: 127.0.0.1 with ports chosen at run time (ADDRESS and
//   STATS_SOCKET are filled in by Balancer);
// - `maxconn 4096`, and `nbthread 1`, so that `show stat` is one
//   consistent picture;
// - no `chroot`, `user` or `group`: HAProxy runs as the test's user, in
//   the foreground;
// - checks every 200 ms, one failure takes a server out and one success
//   puts it back (production uses gentler numbers; the test wants to be
//   quick).
std::string deploy_haproxy_cfg(std::string_view first_line, const ServerProcess& a, const ServerProcess* b);

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
