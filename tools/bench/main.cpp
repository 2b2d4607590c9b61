// parley-bench: a load generator for Parley (and, for comparison, Redis
// pub/sub and NATS). See `parley-bench --help` and docs/benchmarks.md.
#include <csignal>
#include <iostream>

#include "cycles.hpp"
#include "idle.hpp"
#include "loader.hpp"
#include "options.hpp"
#include "traffic.hpp"

using namespace parley::bench;

namespace {

std::uint64_t descriptors_needed(const Options& o) {
  switch (o.scenario) {
    case Scenario::rooms: return static_cast<std::uint64_t>(o.rooms) * static_cast<std::uint64_t>(o.members);
    case Scenario::pairs: return 2 * static_cast<std::uint64_t>(o.pairs);
    case Scenario::idle:
    case Scenario::connect: return static_cast<std::uint64_t>(o.conns);
    default: return static_cast<std::uint64_t>(o.subscribers) + static_cast<std::uint64_t>(o.publishers);
  }
}

// Loopback has one source address per ephemeral port range unless we spread
// over 127.0.0.x: more than ~28,000 connections need more than one source.
// (Connect cycles leave sockets in TIME_WAIT, but Linux reuses those on
// loopback, net.ipv4.tcp_tw_reuse = 2 by default.)
void choose_source_addresses(Options& o) {
  if (o.source_addrs > 0) return;
  o.source_addrs = 1;
  if (descriptors_needed(o) > 20'000) o.source_addrs = static_cast<int>(descriptors_needed(o) / 20'000 + 1);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    bool help = false;
    options = parse_options(std::vector<std::string>(argv + 1, argv + argc), help);
    if (help) {
      std::cout << usage_text();
      return 0;
    }
  } catch (const UsageError& e) {
    std::cerr << "parley-bench: " << e.what() << "\n(see parley-bench --help)\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  choose_source_addresses(options);
  const std::uint64_t wanted = descriptors_needed(options) + 64;
  if (const auto limit = raise_fd_limit(wanted); limit < wanted) {
    std::cerr << "parley-bench: needs " << wanted << " file descriptors but may only open " << limit << "\n";
    return 3;
  }
  auto protocol = make_protocol(options.protocol);
  if (options.transport != "tcp") protocol = make_transport(options.transport, std::move(protocol));
  Result result;
  try {
    switch (options.scenario) {
      case Scenario::idle: result = run_idle(options, *protocol); break;
      case Scenario::connect: result = run_cycles(options, *protocol); break;
      default: result = run_traffic(options, *protocol); break;
    }
  } catch (const std::exception& e) {
    std::cerr << "parley-bench: " << e.what() << "\n";
    return 3;
  }
  if (options.json) print_json(std::cout, result);
  else print_table(std::cout, result);
  if (!result.correctness.clean()) {
    std::cerr << "parley-bench: RUN FAILED its correctness checks: " << result.correctness.first_problem << "\n";
    return 1;
  }
  return 0;
}
