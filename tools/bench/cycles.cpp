#include "cycles.hpp"

#include <unistd.h>

#include <memory>
#include <vector>

#include "loader.hpp"
#include "meter.hpp"
#include "proc_stats.hpp"
#include "spread.hpp"

namespace parley::bench {
namespace {

struct Slot {
  Conn conn;
  std::uint64_t started = 0;
  bool leaving = false;  // goodbye sent
};

class Cycles final : public Loader {
 public:
  Cycles(const Options& options, const Protocol& protocol) : Loader(options, protocol), meter_(options.server_pids) {
    nodelay_ = false;
    tag_ = options.tag.empty() ? "c" + std::to_string(getpid()) : options.tag;
    slots_.resize(static_cast<std::size_t>(options.conns));
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i] = std::make_unique<Slot>();
      slots_[i]->conn.id = static_cast<std::uint32_t>(i);
    }
  }

  Result run() {
    Result r;
    r.scenario = "connect";
    r.protocol = protocol_.name();
    r.server = servers_text(options_);
    r.shape = std::to_string(slots_.size()) + " concurrent cycles of connect, greet, " +
              (options_.connect_join ? "join, " : "") + "goodbye";
    r.connections = slots_.size();
    r.payload = 0;
    r.warmup_s = options_.warmup_s;
    const std::uint64_t start = monotonic_ns();
    measure_start_ = start + static_cast<std::uint64_t>(options_.warmup_s * 1e9);
    measure_end_ = measure_start_ + static_cast<std::uint64_t>(options_.duration_s * 1e9);
    for (auto& slot : slots_) begin(*slot);
    std::uint64_t now = start;
    while (now < measure_end_) {
      if (!meter_.started() && now >= measure_start_) meter_.start();
      now = turn(std::min(meter_.started() ? measure_end_ : measure_start_, now + 100'000'000));
    }
    meter_.stop(r);
    running_ = false;
    r.duration_s = static_cast<double>(measure_end_ - measure_start_) / 1e9;
    // Let the cycles in progress finish, so none of them counts as a failure.
    const std::uint64_t deadline = now + static_cast<std::uint64_t>(options_.drain_timeout_s * 1e9);
    while (busy_ > 0 && now < deadline) now = turn(std::min(deadline, now + 100'000'000));
    if (busy_ > 0) {
      ++correctness_.errors;
      correctness_.note(std::to_string(busy_) + " cycles did not finish within --drain-timeout");
    }
    for (auto& slot : slots_) close(slot->conn);
    r.cycles = cycles_in_window_;
    r.latency = latency_;
    correctness_.errors += protocol_errors_;
    r.correctness = correctness_;
    r.reconnect = options_.reconnect;
    r.reconnects_after_shutdown = reconnects_after_shutdown_;
    r.reconnects_after_loss = reconnects_after_loss_;
    return r;
  }

 private:
  Slot& slot_of(Conn& conn) { return *slots_[conn.id]; }

  void begin(Slot& slot) {
    if (!running_) return;
    slot.started = monotonic_ns();
    slot.leaving = false;
    slot.conn.source = static_cast<std::uint32_t>(next_cycle_);
    slot.conn.server = first_server(Scenario::connect, next_cycle_, 0, server_count());
    slot.conn.nick = tag_ + "_" + std::to_string(next_cycle_++);
    ++busy_;
    ++correctness_.sent;  // for a cycle: started
    open(slot.conn);
  }

  void finish(Slot& slot) {
    --busy_;
    const std::uint64_t now = monotonic_ns();
    if (now >= measure_start_ && now < measure_end_) {
      ++cycles_in_window_;
      latency_.record(now - slot.started);
    }
    ++correctness_.acked;  // for a cycle: completed
    begin(slot);
  }

  void on_connected(Conn& conn) override {
    protocol_.greet(conn.out, conn.nick);
    conn.pending_acks = 1;
    if (options_.connect_join) {
      protocol_.subscribe(conn.out, tag_ + "-lobby");
      ++conn.pending_acks;
    }
    queue(conn);
  }

  void leave(Slot& slot) {
    slot.leaving = true;
    if (protocol_.goodbye(slot.conn.out)) {
      ++slot.conn.pending_acks;  // the server closes once it has answered
      queue(slot.conn);
      return;
    }
    close(slot.conn);
    finish(slot);
  }

  // --reconnect: a cycle the server told to go is given up at once (it is
  // not counted) and a new one starts after the retry_ms it was told.
  void abandon(Slot& slot, std::uint64_t retry_ms, bool announced) {
    close(slot.conn);
    --busy_;
    --correctness_.sent;
    reconnect_later(slot.conn, retry_ms, announced);
  }

  void on_reconnect_due(Conn& conn) override { begin(slot_of(conn)); }

  void on_frame(Conn& conn, const Frame& frame) override {
    Slot& slot = slot_of(conn);
    if (options_.reconnect && frame.kind == FrameKind::shutdown) return abandon(slot, frame.retry_ms, true);
    if (options_.reconnect && frame.kind == FrameKind::fatal && frame.detail == "shutting_down")
      return abandon(slot, lost_connection_retry_ms, true);
    switch (frame.kind) {
      case FrameKind::ack:
        if (--conn.pending_acks == 0 && !slot.leaving) leave(slot);
        return;
      case FrameKind::error_ack:
      case FrameKind::fatal:
        ++correctness_.errors;
        correctness_.note(conn.nick + ": " + std::string(frame.detail));
        return;
      case FrameKind::server_ping:
        protocol_.pong(conn.out);
        queue(conn);
        return;
      case FrameKind::quit:  // another cycle's, in --connect-join's lobby: counted, no error
        ++correctness_.quit_events;
        return;
      default: return;
    }
  }

  void on_closed(Conn& conn, std::string_view why) override {
    Slot& slot = slot_of(conn);
    if (slot.leaving && conn.pending_acks == 0) return finish(slot);
    --busy_;
    --correctness_.sent;  // not a cycle: counted as a disconnect or a reconnect instead
    if (options_.reconnect) return reconnect_later(conn, lost_connection_retry_ms, false);
    ++correctness_.disconnects;
    correctness_.note(conn.nick + " disconnected: " + std::string(why));
    begin(slot);
  }

  std::vector<std::unique_ptr<Slot>> slots_;
  Meter meter_;
  Histogram latency_;
  Correctness correctness_;
  std::string tag_;
  bool running_ = true;
  std::uint64_t measure_start_ = 0, measure_end_ = 0;
  std::uint64_t next_cycle_ = 0, cycles_in_window_ = 0;
  int busy_ = 0;
};

}  // namespace

Result run_cycles(const Options& options, const Protocol& protocol) {
  Cycles cycles(options, protocol);
  return cycles.run();
}

}  // namespace parley::bench
