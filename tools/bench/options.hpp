// parley-bench's command line. Every knob of a run is a flag; a bad flag is
// a usage error (exit 2), never a guess.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::bench {

enum class Scenario { fanout, rooms, pairs, idle, connect, ramp };

// The most --server addresses one run takes (Traffic::settle tracks a
// connection's servers as the bits of one 64-bit word).
inline constexpr std::size_t max_servers = 64;

struct Options {
  Scenario scenario = Scenario::fanout;
  std::string protocol = "parley";
  std::string transport = "tcp";  // tcp, ws or socketio (protocol.hpp's make_transport)
  // --server, repeatable: connections are spread over these (spread.hpp).
  std::vector<std::string> servers = {"127.0.0.1:7667"};
  // --server-pid, repeatable: CPU and memory are summed over these processes.
  std::vector<pid_t> server_pids;

  int subscribers = 1000;  // fanout, ramp
  int publishers = 1;      // fanout, ramp
  int rooms = 100;
  int members = 10;
  int pairs = 500;
  int conns = 0;           // idle: connections held; connect: concurrent cycles (0: scenario default)
  bool connect_join = false;

  std::size_t payload = 64;
  double duration_s = 5;
  double warmup_s = 1;
  int window = 16;           // closed loop: messages in flight per publisher
  double rate = 0;           // open loop: messages/s offered in total; 0 means closed loop
  double drain_timeout_s = 10;
  double setup_timeout_s = 60;
  int connect_concurrency = 256;  // connections being set up at once

  // ramp: start at ramp_start msgs/s, multiply by ramp_factor every step_s,
  // stop when p99 passes p99_bound_ms or deliveries fall behind.
  double ramp_start = 1000;
  double ramp_factor = 1.5;
  double step_s = 2;
  double p99_bound_ms = 10;
  double ramp_max = 1e8;

  int source_addrs = 0;  // loopback only: spread connections over 127.0.0.1..N (0: automatic)
  std::string tag;       // names the run's nicks and channels (default: from the PID)
  // idle, connect, fanout and rooms: a `shutdown` (or a lost connection) is
  // ridden out by reconnecting after retry_ms, with jitter, to the next
  // --server, instead of failing the run; fanout and rooms members resume
  // their sessions and catch up from `history`.
  bool reconnect = false;
  bool json = false;
  bool progress = true;  // live line on stderr, when it is a terminal
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws UsageError. `--help` throws with the usage text as its message and
// sets `help`.
Options parse_options(const std::vector<std::string>& args, bool& help);
std::string usage_text();
const char* scenario_name(Scenario s);
// The --server list as one string, "A,B" (for the result's `address`).
std::string servers_text(const Options& o);

}  // namespace parley::bench
