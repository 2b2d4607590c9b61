// Everything one run measured, and its two renderings: a table for people
// and JSON for scripts (tools/bench-compare reads the JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "histogram.hpp"

namespace parley::bench {

struct Correctness {
  std::uint64_t sent = 0;        // publish requests written
  std::uint64_t acked = 0;       // ... answered with success
  std::uint64_t expected = 0;    // deliveries the acked messages owe
  std::uint64_t received = 0;    // distinct deliveries that arrived
  std::uint64_t duplicates = 0;  // a sender's message seen again, or one older than the last
  std::uint64_t out_of_order = 0;  // a channel's seq not above the previous one
  std::uint64_t errors = 0;      // error replies, fatal errors, unparsable frames
  std::uint64_t disconnects = 0; // connections the server closed unasked
  // --reconnect: publish requests whose connection went before they were
  // answered. Each may or may not have happened: it is owed to no one, but
  // once it reaches anyone it is owed to every recipient (added to expected).
  std::uint64_t unacknowledged = 0;
  std::uint64_t quit_events = 0;  // `quit` events any of the loader's clients saw
  std::string first_problem;

  std::uint64_t lost() const { return expected > received ? expected - received : 0; }
  // Nothing has gone wrong so far (messages still in flight are not lost yet).
  bool clean_so_far() const { return duplicates == 0 && out_of_order == 0 && errors == 0 && disconnects == 0; }
  bool clean() const { return lost() == 0 && clean_so_far(); }
  void note(const std::string& problem) {
    if (first_problem.empty()) first_problem = problem;
  }
};

struct RampStep {
  double offered = 0;            // messages/s
  double deliveries_per_s = 0;
  double delivered_share = 0;    // received / owed in the step
  std::uint64_t p50_ns = 0, p99_ns = 0;
  bool sustained = false;
};

struct Result {
  std::string scenario, protocol, server, shape;
  std::size_t connections = 0;
  std::size_t payload = 0;
  std::string mode;  // "closed loop, window N" or "open loop, R msgs/s"
  double warmup_s = 0, duration_s = 0;

  std::uint64_t messages = 0;    // acked in the measured window
  std::uint64_t deliveries = 0;  // received in the measured window
  Histogram latency;

  std::uint64_t cycles = 0;  // connect

  bool have_server = false;
  std::size_t server_processes = 0;  // --server-pid processes read at both ends of the window
  double server_cpu_s = 0;
  std::uint64_t server_rss_bytes = 0;
  std::optional<double> rss_per_conn_bytes;  // idle

  double loader_cpu_s = 0;
  double other_cpu_s = 0;  // CPU time used by neither the server nor the loader

  std::vector<RampStep> steps;
  double sustainable_rate = 0;

  Correctness correctness;

  // --reconnect: connections opened again after the server said `shutdown`
  // (or `shutting_down`), and after one was lost without a word.
  bool reconnect = false;
  std::uint64_t reconnects_after_shutdown = 0, reconnects_after_loss = 0;
  // Reconnects whose `hello` with `resume` took the session over, and those
  // answered `resumed: false` (a fresh registration).
  std::uint64_t resumed = 0, not_resumed = 0;
  std::uint64_t resumes_cut = 0;  // resumes lost with their connection before their answer
  // fanout and rooms: `history` pages fetched after resuming, the deliveries
  // they supplied, and the seqs seen twice (live and in history, or live on
  // both sides of a reconnect) that were counted once.
  std::uint64_t catch_up_pages = 0, catch_up_messages = 0, repeats = 0;
  // Holes in the live seqs of a member that does not publish (a fanout
  // subscriber), after the head its join or resume named: messages the
  // server never sent that connection (they also count as lost).
  std::uint64_t live_holes = 0;

  double per_second(std::uint64_t n) const { return duration_s > 0 ? static_cast<double>(n) / duration_s : 0; }
  // A loader busier than this was probably what limited the run.
  bool loader_bound() const { return duration_s > 0 && loader_cpu_s / duration_s > 0.9; }
  std::optional<double> server_us_per_1000() const;
};

void print_table(std::ostream& out, const Result& r);
void print_json(std::ostream& out, const Result& r);

}  // namespace parley::bench
