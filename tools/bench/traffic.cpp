#include "traffic.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "meter.hpp"
#include "proc_stats.hpp"
#include "stamp.hpp"

namespace parley::bench {
namespace {

constexpr std::uint64_t second_ns = 1'000'000'000ULL;
// An open-loop loader that fell behind catches up in bounded bursts so it
// keeps reading while it does.
constexpr int max_sends_per_turn = 20'000;

struct Group {
  std::uint32_t base = 0;        // connection ids base .. base+size-1
  std::uint32_t size = 0;
  std::uint32_t publishers = 0;  // the first `publishers` members publish
  std::uint32_t recipients = 0;  // deliveries one message owes
  std::string channel;           // "" for pairs (direct messages)
};

struct InFlight {
  std::int64_t remaining = 0;  // deliveries still to arrive
};

// Per connection traffic state; index = Conn::id.
struct Member {
  std::uint32_t group = 0;
  bool publishes = false;
  std::string destination;  // channel, or the partner's nick
  std::uint64_t sent = 0, acked = 0, done = 0;  // publisher counters: done <= acked <= sent
  std::vector<InFlight> window;                 // closed loop, indexed by counter % size
  std::vector<std::uint64_t> next_counter;      // receiver: per publisher rank in the group
  std::uint64_t last_seq = 0;
};

class Traffic final : public Population {
 public:
  Traffic(const Options& options, const Protocol& protocol)
      : Population(options, protocol, connection_count(options)), meter_(options.server_pid) {
    build_groups();
  }

  Result run();

 private:
  static std::size_t connection_count(const Options& o) {
    switch (o.scenario) {
      case Scenario::rooms: return static_cast<std::size_t>(o.rooms) * static_cast<std::size_t>(o.members);
      case Scenario::pairs: return 2 * static_cast<std::size_t>(o.pairs);
      default: return static_cast<std::size_t>(o.subscribers) + static_cast<std::size_t>(o.publishers);
    }
  }

  bool open_loop() const { return options_.scenario == Scenario::ramp || options_.rate > 0; }
  bool direct() const { return options_.scenario == Scenario::pairs; }

  void build_groups();
  void subscriptions(Conn& conn) override;
  void on_traffic_frame(Conn& conn, const Frame& frame) override;
  void on_turn(std::uint64_t now) override;

  void on_ack(Member& m, bool ok, std::string_view detail);
  void on_delivery(Conn& conn, const Frame& frame);
  void send(Conn& conn, std::uint64_t stamp_ns);
  void refill(Conn& conn);
  void retire(Conn& conn);
  void send_scheduled(std::uint64_t now);
  void end_ramp_step(std::uint64_t now);
  bool drained() const;
  bool any_publisher_left() const;
  void on_closed(Conn& conn, std::string_view why) override;
  void show_progress(std::uint64_t now);
  std::uint64_t next_wakeup(std::uint64_t now) const;
  std::string shape() const;

  enum class Phase { running, draining, done } phase_ = Phase::running;
  std::vector<Group> groups_;
  std::vector<Member> members_;
  std::vector<std::uint32_t> publishers_;  // ids, for open-loop round robin
  std::size_t publishers_closed_ = 0;
  std::string text_;
  Meter meter_;
  Result result_;

  std::uint64_t start_ns_ = 0, measure_start_ = 0, measure_end_ = 0, drain_deadline_ = 0;
  bool sending_ = true;

  // open loop
  double rate_ = 0;
  std::uint64_t schedule_origin_ = 0, scheduled_ = 0;  // message k is due at origin + k / rate

  // ramp
  std::uint64_t step_end_ = 0, step_deliveries_ = 0, step_owed_ = 0;
  Histogram step_latency_;

  // progress
  bool show_progress_ = false;
  std::uint64_t next_progress_ = 0, progress_deliveries_ = 0, all_deliveries_ = 0;
};

std::string Traffic::shape() const {
  const auto& o = options_;
  switch (o.scenario) {
    case Scenario::rooms: return std::to_string(o.rooms) + " rooms x " + std::to_string(o.members) + " members";
    case Scenario::pairs: return std::to_string(o.pairs) + " pairs";
    default:
      return std::to_string(o.subscribers) + " subscribers, " + std::to_string(o.publishers) + " publisher" +
             (o.publishers == 1 ? "" : "s");
  }
}

void Traffic::build_groups() {
  const auto& o = options_;
  // A message is owed to every member but its sender. Redis also sends it
  // back to the sender; those echoes are not counted (see on_delivery).
  auto add = [&](std::uint32_t base, std::uint32_t size, std::uint32_t publishers, std::string channel) {
    Group g{base, size, publishers, 0, std::move(channel)};
    g.recipients = g.channel.empty() ? 1 : size - 1;
    groups_.push_back(std::move(g));
  };
  if (o.scenario == Scenario::rooms) {
    for (int r = 0; r < o.rooms; ++r)
      add(static_cast<std::uint32_t>(r * o.members), static_cast<std::uint32_t>(o.members),
          static_cast<std::uint32_t>(o.members), channel_of(static_cast<std::size_t>(r)));
  } else if (o.scenario == Scenario::pairs) {
    for (int p = 0; p < o.pairs; ++p) add(static_cast<std::uint32_t>(2 * p), 2, 2, "");
  } else {
    add(0, static_cast<std::uint32_t>(o.subscribers + o.publishers), static_cast<std::uint32_t>(o.publishers),
        channel_of(0));
  }
  members_.resize(conns_.size());
  for (std::uint32_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& g = groups_[gi];
    for (std::uint32_t i = g.base; i < g.base + g.size; ++i) {
      Member& m = members_[i];
      m.group = gi;
      m.publishes = i - g.base < g.publishers;
      m.destination = g.channel.empty() ? conns_[i ^ 1]->nick : g.channel;
      m.next_counter.assign(g.publishers, 0);
      if (m.publishes) {
        publishers_.push_back(i);
        if (!open_loop()) m.window.resize(static_cast<std::size_t>(o.window));
      }
    }
  }
}

void Traffic::subscriptions(Conn& conn) {
  const Group& g = groups_[members_[conn.id].group];
  if (!g.channel.empty()) {
    protocol_.subscribe(conn.out, g.channel);
    ++conn.pending_acks;
  } else if (auto inbox = protocol_.inbox_subscription(conn.nick); !inbox.empty()) {
    protocol_.subscribe(conn.out, inbox);
    ++conn.pending_acks;
  }
}

void Traffic::send(Conn& conn, std::uint64_t stamp_ns) {
  Member& m = members_[conn.id];
  text_.clear();
  append_stamped_text(text_, Stamp{conn.id, m.sent, stamp_ns}, options_.payload);
  if (direct()) protocol_.direct(conn.out, m.destination, text_);
  else protocol_.publish(conn.out, m.destination, text_);
  if (!m.window.empty()) m.window[m.sent % m.window.size()].remaining = groups_[m.group].recipients;
  ++m.sent;
  ++conn.pending_acks;
  ++correctness_.sent;
  queue(conn);
}

// Closed loop: top the publisher's window up again.
void Traffic::refill(Conn& conn) {
  Member& m = members_[conn.id];
  if (!sending_ || m.window.empty()) return;
  if (m.sent - m.done >= m.window.size()) return;
  // Inside a read the time it was read is fresh enough (the message goes out
  // at the end of this loop turn); reading the clock per delivery is not free.
  const std::uint64_t now = in_read_ ? read_time_ns_ : monotonic_ns();
  while (m.sent - m.done < m.window.size()) send(conn, now);
}

// Closed loop: messages leave the window in order, once acked and delivered.
void Traffic::retire(Conn& conn) {
  Member& m = members_[conn.id];
  if (m.window.empty()) return;
  while (m.done < m.acked && m.window[m.done % m.window.size()].remaining <= 0) ++m.done;
  refill(conn);
}

void Traffic::on_ack(Member& m, bool ok, std::string_view detail) {
  if (m.acked >= m.sent) {  // an ack for nothing we sent
    ++correctness_.errors;
    correctness_.note("unexpected reply: " + std::string(detail));
    return;
  }
  const std::uint64_t counter = m.acked++;
  const Group& g = groups_[m.group];
  if (ok) {
    ++correctness_.acked;
    correctness_.expected += g.recipients;
    if (read_time_ns_ >= measure_start_ && read_time_ns_ < measure_end_) ++result_.messages;
    if (options_.scenario == Scenario::ramp) step_owed_ += g.recipients;
  } else {
    ++correctness_.errors;
    correctness_.note("publish failed: " + std::string(detail));
    if (!m.window.empty()) m.window[counter % m.window.size()].remaining = 0;  // nothing will come
  }
}

void Traffic::on_delivery(Conn& conn, const Frame& frame) {
  Member& receiver = members_[conn.id];
  const auto stamp = read_stamp(frame.payload);
  const Group& g = groups_[receiver.group];
  if (!stamp || stamp->publisher < g.base || stamp->publisher >= g.base + g.publishers) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " got a message that is not ours: " + std::string(frame.payload.substr(0, 60)));
    return;
  }
  if (stamp->publisher == conn.id) {
    // Redis cannot be told not to echo a subscribed publisher's messages:
    // the echo is work that server chose to do, not a delivery owed.
    if (protocol_.echoes_to_sender()) return;
    ++correctness_.errors;
    correctness_.note(conn.nick + " got its own message back");
    return;
  }
  if (frame.seq) {
    if (frame.seq <= receiver.last_seq) {
      ++correctness_.out_of_order;
      correctness_.note(conn.nick + " got seq " + std::to_string(frame.seq) + " after " +
                        std::to_string(receiver.last_seq));
    }
    receiver.last_seq = frame.seq;
  }
  std::uint64_t& next = receiver.next_counter[stamp->publisher - g.base];
  if (stamp->counter < next) {
    ++correctness_.duplicates;
    correctness_.note(conn.nick + " got message " + std::to_string(stamp->counter) + " of " +
                      conns_[stamp->publisher]->nick + " again (or after a later one)");
    return;
  }
  next = stamp->counter + 1;  // a gap shows up as lost at the end
  ++correctness_.received;
  ++all_deliveries_;
  const std::uint64_t now = read_time_ns_;
  if (now >= measure_start_ && now < measure_end_) {
    ++result_.deliveries;
    result_.latency.record(now > stamp->sent_ns ? now - stamp->sent_ns : 0);
  }
  if (options_.scenario == Scenario::ramp) {
    ++step_deliveries_;
    step_latency_.record(now > stamp->sent_ns ? now - stamp->sent_ns : 0);
  }
  Conn& publisher = *conns_[stamp->publisher];
  Member& pm = members_[publisher.id];
  if (!pm.window.empty() && stamp->counter >= pm.done && stamp->counter < pm.sent) {
    --pm.window[stamp->counter % pm.window.size()].remaining;
    retire(publisher);
  }
}

void Traffic::on_traffic_frame(Conn& conn, const Frame& frame) {
  Member& m = members_[conn.id];
  switch (frame.kind) {
    case FrameKind::delivery: return on_delivery(conn, frame);
    case FrameKind::ack:
      --conn.pending_acks;
      on_ack(m, true, {});
      return retire(conn);
    case FrameKind::error_ack:
      --conn.pending_acks;
      on_ack(m, false, frame.detail);
      return retire(conn);
    default: return;
  }
}

void Traffic::send_scheduled(std::uint64_t now) {
  if (!sending_ || rate_ <= 0) return;
  for (int n = 0; n < max_sends_per_turn; ++n) {
    const auto due = schedule_origin_ + static_cast<std::uint64_t>(static_cast<double>(scheduled_) * 1e9 / rate_);
    if (due > now) return;
    Conn& conn = *conns_[publishers_[scheduled_ % publishers_.size()]];
    ++scheduled_;
    send(conn, due);
  }
}

void Traffic::end_ramp_step(std::uint64_t now) {
  RampStep step;
  step.offered = rate_;
  step.deliveries_per_s = static_cast<double>(step_deliveries_) / options_.step_s;
  step.delivered_share = step_owed_ ? static_cast<double>(step_deliveries_) / static_cast<double>(step_owed_) : 1.0;
  step.p50_ns = step_latency_.quantile(0.5);
  step.p99_ns = step_latency_.quantile(0.99);
  step.sustained = step.delivered_share >= 0.95 && static_cast<double>(step.p99_ns) <= options_.p99_bound_ms * 1e6 &&
                   correctness_.clean_so_far();
  result_.steps.push_back(step);
  step_deliveries_ = step_owed_ = 0;
  step_latency_.clear();
  if (step.sustained) result_.sustainable_rate = rate_;
  const double next_rate = rate_ * options_.ramp_factor;
  if (!step.sustained || next_rate > options_.ramp_max) {
    measure_end_ = now;  // the last step ends the run
    return;
  }
  // Restart the schedule at the new rate from now.
  rate_ = next_rate;
  schedule_origin_ = now;
  scheduled_ = 0;
  step_end_ = now + static_cast<std::uint64_t>(options_.step_s * 1e9);
}

bool Traffic::any_publisher_left() const { return publishers_closed_ < publishers_.size(); }

void Traffic::on_closed(Conn& conn, std::string_view why) {
  Population::on_closed(conn, why);
  if (members_[conn.id].publishes) ++publishers_closed_;
}

bool Traffic::drained() const {
  for (const auto& conn : conns_)
    if (!conn->closed && conn->pending_acks > 0) return false;
  return correctness_.received + correctness_.duplicates >= correctness_.expected;
}

void Traffic::show_progress(std::uint64_t now) {
  if (!show_progress_ || now < next_progress_) return;
  const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
  std::fprintf(stderr, "\r  %5.1f s  %10.0f deliveries/s  p99 %8.3f ms  errors %llu   ", elapsed,
               static_cast<double>(all_deliveries_ - progress_deliveries_),
               static_cast<double>(result_.latency.quantile(0.99)) / 1e6,
               static_cast<unsigned long long>(correctness_.errors + correctness_.disconnects));
  progress_deliveries_ = all_deliveries_;
  next_progress_ = now + second_ns;
}

void Traffic::on_turn(std::uint64_t now) {
  if (setting_up_) return;
  if (phase_ == Phase::running) {
    if (!any_publisher_left()) {  // the server went away: stop now, the run has failed anyway
      if (!meter_.started()) meter_.start();
      measure_end_ = std::min(measure_end_, now);
      measure_start_ = std::min(measure_start_, measure_end_);
    }
    if (options_.scenario == Scenario::ramp && now >= step_end_) end_ramp_step(now);
    if (!meter_.started() && now >= measure_start_) {
      meter_.start();
      step_deliveries_ = step_owed_ = 0;  // ramp: the warm-up is not a step
      step_latency_.clear();
    }
    if (now >= measure_end_) {
      meter_.stop(result_);
      result_.duration_s = static_cast<double>(measure_end_ - measure_start_) / 1e9;
      sending_ = false;
      phase_ = Phase::draining;
      drain_deadline_ = now + static_cast<std::uint64_t>(options_.drain_timeout_s * 1e9);
    } else {
      send_scheduled(now);
    }
  }
  if (phase_ == Phase::draining && (drained() || now >= drain_deadline_)) phase_ = Phase::done;
  show_progress(now);
}

std::uint64_t Traffic::next_wakeup(std::uint64_t now) const {
  std::uint64_t next = now + 50'000'000;  // progress, window edges and drain checks
  if (phase_ == Phase::running) {
    if (sending_ && rate_ > 0)
      next = std::min(next, schedule_origin_ +
                                static_cast<std::uint64_t>(static_cast<double>(scheduled_) * 1e9 / rate_));
    if (!meter_.started()) next = std::min(next, measure_start_);
    next = std::min(next, measure_end_);
    if (options_.scenario == Scenario::ramp) next = std::min(next, step_end_);
  }
  return std::max(next, now);
}

Result Traffic::run() {
  result_.scenario = scenario_name(options_.scenario);
  result_.protocol = protocol_.name();
  result_.server = options_.server;
  result_.shape = shape();
  result_.connections = conns_.size();
  result_.payload = options_.payload;
  result_.warmup_s = options_.warmup_s;
  if (options_.scenario == Scenario::ramp)
    result_.mode = "open loop, from " + std::to_string(static_cast<long long>(options_.ramp_start)) + " msgs/s";
  else if (open_loop())
    result_.mode = "open loop, " + std::to_string(static_cast<long long>(options_.rate)) + " msgs/s";
  else
    result_.mode = "closed loop, window " + std::to_string(options_.window) + " per publisher";

  set_up();
  show_progress_ = options_.progress && !options_.json && isatty(STDERR_FILENO);
  start_ns_ = monotonic_ns();
  measure_start_ = start_ns_ + static_cast<std::uint64_t>(options_.warmup_s * 1e9);
  if (options_.scenario == Scenario::ramp) {
    rate_ = options_.ramp_start;
    measure_end_ = UINT64_MAX;  // the steps decide
    step_end_ = measure_start_ + static_cast<std::uint64_t>(options_.step_s * 1e9);
  } else {
    rate_ = options_.rate;
    measure_end_ = measure_start_ + static_cast<std::uint64_t>(options_.duration_s * 1e9);
  }
  schedule_origin_ = start_ns_;
  if (!open_loop())
    for (std::uint32_t id : publishers_) refill(*conns_[id]);
  std::uint64_t now = start_ns_;
  while (phase_ != Phase::done) {
    now = turn(next_wakeup(now));
  }
  if (show_progress_) std::fprintf(stderr, "\n");
  correctness_.errors += protocol_errors_;
  result_.correctness = correctness_;
  return result_;
}

}  // namespace

Result run_traffic(const Options& options, const Protocol& protocol) {
  Traffic traffic(options, protocol);
  return traffic.run();
}

}  // namespace parley::bench
