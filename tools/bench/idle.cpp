#include "idle.hpp"

#include <stdexcept>

#include "meter.hpp"
#include "population.hpp"
#include "proc_stats.hpp"

namespace parley::bench {
namespace {

constexpr int ping_probes = 200;

class Idle final : public Population {
 public:
  Idle(const Options& options, const Protocol& protocol)
      : Population(options, protocol, static_cast<std::size_t>(options.conns)) {}

  Result run() {
    Result r;
    r.scenario = "idle";
    r.protocol = protocol_.name();
    r.server = servers_text(options_);
    r.shape = std::to_string(conns_.size()) + " idle registered connections";
    r.connections = conns_.size();
    r.payload = 0;
    const std::optional<std::uint64_t> before = total_rss_bytes(options_.server_pids);
    set_up();
    settle();
    Meter meter(options_.server_pids);
    meter.start();
    const std::uint64_t start = monotonic_ns();
    probe(r);
    hold(start + static_cast<std::uint64_t>(options_.duration_s * 1e9));
    meter.stop(r);
    r.duration_s = static_cast<double>(monotonic_ns() - start) / 1e9;
    if (before && r.have_server)
      r.rss_per_conn_bytes = (static_cast<double>(r.server_rss_bytes) - static_cast<double>(*before)) /
                             static_cast<double>(conns_.size());
    correctness_.errors += protocol_errors_;
    r.correctness = correctness_;
    report_reconnects(r);
    return r;
  }

 private:
  void subscriptions(Conn&) override {}

  void on_reply(Conn&, const Pending&, const Frame& frame) override {
    if (frame.kind == FrameKind::error_ack) {
      ++correctness_.errors;
      correctness_.note("ping failed: " + std::string(frame.detail));
    }
  }
  void on_event(Conn&, const Frame&) override {}

  // Lets the server finish the work the greetings caused (Parley keeps
  // nothing pending, but a server may free or grow buffers lazily) before
  // its memory is read.
  void settle() {
    const std::uint64_t until = monotonic_ns() + 200'000'000;
    while (monotonic_ns() < until) turn(until);
  }

  // Pings spread over the population, one at a time: the round trip each
  // takes is the latency a user of a busy-but-idle server sees.
  void probe(Result& r) {
    const std::size_t n = conns_.size();
    for (int i = 0; i < ping_probes; ++i) {
      Conn& conn = *conns_[static_cast<std::size_t>(i) * n / ping_probes % n];
      if (conn.closed) continue;  // --reconnect: waiting to come back
      const std::uint64_t sent = monotonic_ns();
      protocol_.ping(conn.out);
      expect(conn, {Request::ping});
      queue(conn);
      const std::uint64_t deadline = sent + 5'000'000'000ULL;
      while (conn.pending_acks > 0 && !conn.closed) {
        if (turn(deadline) >= deadline) throw std::runtime_error("no answer to a ping within 5 s");
      }
      if (!conn.closed) r.latency.record(read_time_ns_ - sent);
    }
  }

  void hold(std::uint64_t until) {
    for (std::uint64_t now = monotonic_ns(); now < until;) now = turn(std::min(until, now + 100'000'000));
  }
};

}  // namespace

Result run_idle(const Options& options, const Protocol& protocol) {
  Idle idle(options, protocol);
  return idle.run();
}

}  // namespace parley::bench
