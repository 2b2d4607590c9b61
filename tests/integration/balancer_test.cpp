// parley-bench through a real load balancer: Debian's HAProxy in TCP mode in
// front of parleyd, handing each client's address on in a PROXY v2 header.
// Every scenario must come out clean through it, and parleyd must take each
// client's address from the header. Smoke runs: counts, not speed.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/socket/endpoint.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

std::string haproxy_path() {
  for (const char* path : {"/usr/sbin/haproxy", "/usr/bin/haproxy"})
    if (access(path, X_OK) == 0) return path;
  return {};
}

// A port nobody listens on now (HAProxy cannot report one it chose itself).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const parley::Endpoint any_port = resolve_one("127.0.0.1:0");
  REQUIRE(bind(fd, any_port.get(), any_port.length) == 0);
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// HAProxy in the foreground, forwarding 127.0.0.1:port to `backend`.
class Balancer {
 public:
  explicit Balancer(const std::string& backend) {
    const std::string binary = haproxy_path();
    REQUIRE_MESSAGE(!binary.empty(), "haproxy is not installed: tools/install-deps installs it");
    dir_ = temp_dir() + "/parley-haproxy-XXXXXX";
    REQUIRE(mkdtemp(dir_.data()) != nullptr);
    address_ = "127.0.0.1:" + std::to_string(free_port());
    std::ofstream(dir_ + "/haproxy.cfg") << "global\n"
                                            "  maxconn 4096\n"
                                            "defaults\n"
                                            "  mode tcp\n"
                                            "  timeout connect 5s\n"
                                            "  timeout client 60s\n"
                                            "  timeout server 60s\n"
                                            "frontend chat\n"
                                            "  bind " << address_ << "\n"
                                            "  default_backend parley\n"
                                            "backend parley\n"
                                            "  server parleyd " << backend << " send-proxy-v2\n";
    process_.emplace(std::vector<std::string>{binary, "-db", "-q", "-f", dir_ + "/haproxy.cfg"}, "");
    wait_listening();
  }
  ~Balancer() {
    process_.reset();
    std::remove((dir_ + "/haproxy.cfg").c_str());
    rmdir(dir_.c_str());
  }
  const std::string& address() const { return address_; }

 private:
  void wait_listening() {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      const int fd = connect_socket(address_);
      if (fd >= 0) {
        close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a port: no event to await
    }
    FAIL("haproxy did not start listening on " << address_);
  }

  std::string dir_;
  std::string address_;
  std::optional<ChildProcess> process_;
};

BenchRun through(const Balancer& balancer, std::vector<std::string> args) {
  return run_bench_smoke(std::move(args), balancer.address(), "0.5");
}

}  // namespace

TEST_CASE("parley-bench through HAProxy: every scenario clean, peers named by the PROXY header") {
  ServerProcess server({"--rate", "0", "--listen", "127.0.0.1:0,proxy", "--trusted-proxy", "127.0.0.0/8"});
  Balancer balancer(server.address());

  const BenchRun fanout = through(balancer, {"fanout", "--subscribers", "30", "--publishers", "2", "--window", "4"});
  check_bench_clean(fanout);
  CHECK(fanout.result["deliveries"].get<long>() > 0);
  check_bench_clean(through(balancer, {"rooms", "--rooms", "5", "--members", "4", "--rate", "500"}));
  check_bench_clean(through(balancer, {"pairs", "--pairs", "10", "--rate", "500"}));
  check_bench_clean(through(balancer, {"idle", "--conns", "50"}));
  const BenchRun cycles = through(balancer, {"connect", "--conns", "4"});
  check_bench_clean(cycles);
  CHECK(cycles.result["cycles"].get<long>() > 0);

  // Every connection came through the balancer, and its PROXY header named
  // the loader's socket as the peer.
  const std::string log = server.log();
  CHECK(log.find("connected through proxy") != std::string::npos);
  CHECK(log.find("fatal") == std::string::npos);
}
