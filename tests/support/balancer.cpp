#include "balancer.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "doc_blocks.hpp"

namespace parley::test {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, separator)) fields.push_back(field);
  return fields;
}

}  // namespace

std::string haproxy_path() {
  for (const char* path : {"/usr/sbin/haproxy", "/usr/bin/haproxy"})
    if (access(path, X_OK) == 0) return path;
  return {};
}

namespace {

void wait_listening(const std::string& address, const std::string& who) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    const int fd = connect_socket(address);
    if (fd >= 0) {
      close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a port: no event to await
  }
  FAIL(who << " did not start listening on " << address);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace

Balancer::Balancer(const std::string& config) {
  const std::string binary = haproxy_path();
  REQUIRE_MESSAGE(!binary.empty(), "haproxy is not installed: tools/install-deps installs it");
  REQUIRE_MESSAGE(config.find("stats socket STATS_SOCKET ") != std::string::npos,
                  "the config puts no stats socket at STATS_SOCKET:\n" << config);
  dir_ = temp_dir() + "/parley-haproxy-XXXXXX";
  REQUIRE(mkdtemp(dir_.data()) != nullptr);
  address_ = "127.0.0.1:" + std::to_string(free_port());
  config_ = replace_all(replace_all(config, "ADDRESS", address_), "STATS_SOCKET", dir_ + "/stats.sock");
  std::ofstream(dir_ + "/haproxy.cfg") << config_;
  ChildProcess check({binary, "-c", "-q", "-f", dir_ + "/haproxy.cfg"}, "");  // says what is wrong, at once
  REQUIRE_MESSAGE(check.wait() == 0, "haproxy -c refuses the config:\n" << check.output() << "\n" << config_);
  process_.emplace(std::vector<std::string>{binary, "-db", "-q", "-f", dir_ + "/haproxy.cfg"}, "");
  wait_listening(address_, "haproxy");
}

Balancer::~Balancer() {
  process_.reset();  // SIGKILL: HAProxy keeps nothing worth a clean stop
  std::remove((dir_ + "/haproxy.cfg").c_str());
  std::remove((dir_ + "/stats.sock").c_str());
  rmdir(dir_.c_str());
}

std::string Balancer::command(const std::string& line) {
  const int fd = connect_socket("unix:" + dir_ + "/stats.sock");
  REQUIRE_MESSAGE(fd >= 0, "cannot reach HAProxy's stats socket");
  const std::string request = line + "\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  // Without "prompt" HAProxy answers one command and closes.
  std::string answer;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char chunk[16384];
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    answer.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

std::map<std::string, std::string> Balancer::server_stats(const std::string& backend, const std::string& server) {
  std::istringstream in(command("show stat"));
  std::string line;
  std::vector<std::string> names;
  std::map<std::string, std::string> row;
  while (std::getline(in, line)) {
    if (line.starts_with("# ")) {
      names = split(line.substr(2), ',');
      continue;
    }
    const std::vector<std::string> fields = split(line, ',');
    if (fields.size() < 2 || fields[0] != backend || fields[1] != server) continue;
    for (std::size_t i = 0; i < names.size() && i < fields.size(); ++i) row[names[i]] = fields[i];
  }
  return row;
}

namespace {

std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

}  // namespace

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
std::string deploy_haproxy_cfg(std::string_view first_line, const ServerProcess& a, const ServerProcess* b) {
  std::vector<Substitution> changes{
      {"global\n", "global\n  nbthread 1\n"},
      {"  chroot /var/lib/haproxy\n", ""},
      {"  user haproxy\n", ""},
      {"  group haproxy\n", ""},
      {"maxconn 100000", "maxconn 4096"},
      {"stats socket /run/haproxy/admin.sock ", "stats socket STATS_SOCKET "},
      {"bind :7667", "bind ADDRESS"},
      {"inter 1s fall 2 rise 2", "inter 200ms fall 1 rise 1"},
      {"server a 192.0.2.11:7667 send-proxy-v2 check port 7668",
       "server a " + a.address() + " send-proxy-v2 check port " + port_of(a.admin_address())},
  };
  const std::string b_line = "server b 192.0.2.12:7667 send-proxy-v2 check port 7668";
  if (b)
    changes.push_back({b_line, "server b " + b->address() + " send-proxy-v2 check port " + port_of(b->admin_address())});
  else
    changes.push_back({"  " + b_line + "\n", ""});
  return substitute(doc_block("docs/deploy.md", first_line), changes);
}


constexpr const char* nginx_binary = "/usr/sbin/nginx";
constexpr const char* nginx_stream_module = "/usr/lib/nginx/modules/ngx_stream_module.so";

// One process (master_process off), so that the test's SIGKILL leaves no
// worker behind; the error log goes to a file, so that a chatty nginx never
// blocks on a full pipe.
NginxStream::NginxStream(const std::string& stream) {
  REQUIRE_MESSAGE(access(nginx_binary, X_OK) == 0, "nginx is not installed: tools/install-deps installs it");
  REQUIRE_MESSAGE(access(nginx_stream_module, R_OK) == 0,
                  "nginx's stream module is not installed (libnginx-mod-stream): tools/install-deps installs it");
  dir_ = temp_dir() + "/parley-nginx-XXXXXX";
  REQUIRE(mkdtemp(dir_.data()) != nullptr);
  address_ = "127.0.0.1:" + std::to_string(free_port());
  config_ = std::string("load_module ") + nginx_stream_module + ";\n"
            "daemon off;\n"
            "master_process off;\n"
            "pid " + dir_ + "/nginx.pid;\n"
            "error_log " + dir_ + "/error.log warn;\n"
            "events {\n"
            "  worker_connections 4096;\n"
            "}\n" +
            replace_all(stream, "ADDRESS", address_);
  std::ofstream(dir_ + "/nginx.conf") << config_;
  const std::vector<std::string> argv{nginx_binary, "-p", dir_, "-e", dir_ + "/error.log", "-c", dir_ + "/nginx.conf"};
  std::vector<std::string> test = argv;
  test.push_back("-t");  // says what is wrong, at once
  ChildProcess check(test, "");
  REQUIRE_MESSAGE(check.wait() == 0, "nginx -t refuses the config:\n" << check.output() << "\n" << config_);
  process_.emplace(argv, "");
  wait_listening(address_, "nginx");
}

NginxStream::~NginxStream() {
  if (process_) process_->stop(SIGTERM, 5000);
  for (const char* file : {"/nginx.conf", "/nginx.pid", "/error.log"}) std::remove((dir_ + file).c_str());
  rmdir(dir_.c_str());
}

std::string NginxStream::error_log() const {
  std::ifstream in(dir_ + "/error.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace parley::test
