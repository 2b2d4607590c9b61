#include "balancer.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

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

Balancer::Balancer(const std::string& sections) {
  const std::string binary = haproxy_path();
  REQUIRE_MESSAGE(!binary.empty(), "haproxy is not installed: tools/install-deps installs it");
  dir_ = temp_dir() + "/parley-haproxy-XXXXXX";
  REQUIRE(mkdtemp(dir_.data()) != nullptr);
  address_ = "127.0.0.1:" + std::to_string(free_port());
  std::string body = sections;
  for (std::size_t at; (at = body.find("ADDRESS")) != std::string::npos;) body.replace(at, 7, address_);
  config_ = "global\n"
            "  maxconn 4096\n"
            "  nbthread 1\n"
            "  stats socket " + dir_ + "/stats.sock mode 600 level admin\n"
            "defaults\n"
            "  mode tcp\n"
            "  timeout connect 5s\n"
            "  timeout client 60s\n"
            "  timeout server 60s\n" +
            body;
  std::ofstream(dir_ + "/haproxy.cfg") << config_;
  process_.emplace(std::vector<std::string>{binary, "-db", "-q", "-f", dir_ + "/haproxy.cfg"}, "");
  wait_listening();
}

Balancer::~Balancer() {
  process_.reset();  // SIGKILL: HAProxy keeps nothing worth a clean stop
  std::remove((dir_ + "/haproxy.cfg").c_str());
  std::remove((dir_ + "/stats.sock").c_str());
  rmdir(dir_.c_str());
}

void Balancer::wait_listening() {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    const int fd = connect_socket(address_);
    if (fd >= 0) {
      close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a port: no event to await
  }
  FAIL("haproxy did not start listening on " << address_ << "; its output:\n" << process_->output());
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

}  // namespace parley::test
