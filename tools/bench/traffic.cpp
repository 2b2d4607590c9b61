#include "traffic.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <unordered_map>

#include "meter.hpp"
#include "proc_stats.hpp"
#include "stamp.hpp"

namespace parley::bench {
namespace {

constexpr std::uint64_t second_ns = 1'000'000'000ULL;
// An open-loop loader that fell behind catches up in bounded bursts so it
// keeps reading while it does.
constexpr int max_sends_per_turn = 20'000;
// --reconnect: messages per `history` page of a catch-up (the protocol's most).
constexpr int catch_up_page = 500;
// What settle() publishes, "probe SERVER" (the sender's --server index),
// until every receiver has one from each server its publishers are on;
// never a stamped text, so never counted.
constexpr std::string_view probe_prefix = "probe ";
constexpr std::uint64_t probe_interval_ns = 20'000'000;

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

// A live message that came while its member was catching up.
struct Held {
  std::uint64_t seq = 0;
  std::uint64_t read_ns = 0;
  std::string text;
};

// Per connection traffic state; index = Conn::id.
struct Member {
  std::uint32_t group = 0;
  bool publishes = false;
  std::string destination;  // channel, or the partner's nick
  // Publisher counters: done <= acked <= sent. `acked` counts the messages
  // whose fate is settled: answered, or (--reconnect) left unanswered by a
  // lost connection.
  std::uint64_t sent = 0, acked = 0, done = 0;
  std::vector<InFlight> window;                 // closed loop, indexed by counter % size
  std::vector<std::uint64_t> next_counter;      // receiver: per publisher rank in the group
  std::uint64_t last_seq = 0;   // the highest seq counted (--reconnect: from the join's head on)
  // The last seq that came live on the current connection (--reconnect:
  // from the head its join or resume named on).
  std::uint64_t live_last = 0;
  std::uint64_t anchor = 0;  // --reconnect: that head, for the problem note

  // --reconnect
  std::string epoch;                // the channel's, from the join reply
  bool catching_up = false;         // resumed, paging history up to catch_up_to
  std::uint64_t catch_up_to = 0;    // the channel's head when the session was resumed
  std::vector<Held> held;           // live messages that came meanwhile
  // Publisher: deliveries of its messages seen before their reply, by
  // counter; and those whose connection went unanswered, by counter: how
  // many recipients got them so far.
  std::unordered_map<std::uint64_t, std::uint32_t> early, unanswered;
};

class Traffic final : public Population {
 public:
  Traffic(const Options& options, const Protocol& protocol)
      : Population(options, protocol, connection_count(options)), meter_(options.server_pids) {
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
  std::uint64_t probe_sources(std::uint32_t id) const;
  void settle();
  void subscriptions(Conn& conn) override;
  void on_subscribed(Conn& conn, const Frame& frame) override;
  void on_reply(Conn& conn, const Pending& request, const Frame& frame) override;
  void on_event(Conn& conn, const Frame& frame) override;
  void on_resumed(Conn& conn, const Welcome& welcome) override;
  void on_not_resumed(Conn& conn) override;
  void on_connection_ended(Conn& conn) override;
  void on_quit_event(Conn& conn, const Frame& frame) override;
  void on_turn(std::uint64_t now) override;

  void on_ack(Member& m, std::uint64_t counter, bool ok, std::string_view detail);
  void on_delivery(Conn& conn, const Frame& frame);
  // Counts one message `conn` received, live or from history, with its seq
  // (0 when the protocol has none) and the time it was read.
  void account(Conn& conn, std::string_view text, std::uint64_t seq, std::uint64_t read_ns, bool from_history);
  void unanswered(Member& m, std::uint64_t counter);
  void request_page(Conn& conn);
  void on_history(Conn& conn, const Frame& frame);
  void finish_catch_up(Conn& conn);
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
  std::uint64_t catch_up_pages_ = 0, catch_up_messages_ = 0, repeats_ = 0, live_holes_ = 0;

  std::uint64_t start_ns_ = 0, measure_start_ = 0, measure_end_ = 0, drain_deadline_ = 0;
  bool sending_ = true;
  bool settling_ = false;
  // settle(): per connection, the servers (a bit per --server index, mod
  // 64) a probe must still come from.
  std::vector<std::uint64_t> unprobed_from_;
  std::size_t unprobed_ = 0;

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

// The servers (bits of --server indexes, max_servers at most) that connection `id`'s
// messages come from: those of the publishers in its group but itself
// (unless the protocol echoes), the partner in pairs.
std::uint64_t Traffic::probe_sources(std::uint32_t id) const {
  const Group& g = groups_[members_[id].group];
  std::uint64_t servers = 0;
  for (std::uint32_t p = g.base; p < g.base + g.publishers; ++p)
    if (p != id || protocol_.echoes_to_sender()) servers |= std::uint64_t{1} << conns_[p]->server;
  return servers;
}

// Before the run, for a protocol whose subscriptions reach the other
// servers only after they are acknowledged: every publisher publishes a
// probe every 20 ms until every connection that will receive messages has
// received one from each server its group's publishers are on (a probe
// from its own server says nothing of the others). The event awaited is
// the probes' arrival; the setup timeout bounds it.
void Traffic::settle() {
  settling_ = true;
  unprobed_from_.assign(conns_.size(), 0);
  unprobed_ = 0;
  for (const auto& conn : conns_)
    if ((unprobed_from_[conn->id] = probe_sources(conn->id)) != 0) ++unprobed_;
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(options_.setup_timeout_s * 1e9);
  std::uint64_t next_probe = 0;
  while (unprobed_ > 0) {
    const std::uint64_t now = monotonic_ns();
    if (now >= deadline)
      throw std::runtime_error(std::to_string(unprobed_) + " connections missed a probe from some server within "
                               "--setup-timeout: the subscriptions did not reach every server");
    if (publishers_closed_ > 0) throw std::runtime_error("a publisher's connection closed before the run");
    if (now >= next_probe) {
      for (std::uint32_t id : publishers_) {
        Conn& conn = *conns_[id];
        const Member& m = members_[id];
        const std::string probe = std::string(probe_prefix) + std::to_string(conn.server);
        if (direct()) protocol_.direct(conn.out, m.destination, probe);
        else protocol_.publish(conn.out, m.destination, probe);
        expect(conn, {Request::probe});
        queue(conn);
      }
      next_probe = now + probe_interval_ns;
    }
    turn(std::min(next_probe, deadline));
  }
  settling_ = false;
}

void Traffic::subscriptions(Conn& conn) {
  const Group& g = groups_[members_[conn.id].group];
  if (!g.channel.empty()) {
    protocol_.subscribe(conn.out, g.channel);
    expect(conn, {Request::subscribe});
  } else if (auto inbox = protocol_.inbox_subscription(conn.nick); !inbox.empty()) {
    protocol_.subscribe(conn.out, inbox);
    expect(conn, {Request::subscribe});
  }
}

// --reconnect: the member has seen its channel up to the head it joined at;
// a catch-up after a reconnect pages from there.
void Traffic::on_subscribed(Conn& conn, const Frame& frame) {
  if (!options_.reconnect || groups_[members_[conn.id].group].channel.empty()) return;
  const Joined joined = parse_joined(frame.line);
  if (!joined.ok) {
    ++correctness_.errors;
    correctness_.note(conn.nick + ": unreadable join reply: " + joined.error);
    return;
  }
  Member& m = members_[conn.id];
  m.epoch = joined.head.epoch;
  m.last_seq = m.live_last = m.anchor = joined.head.seq;
}

void Traffic::send(Conn& conn, std::uint64_t stamp_ns) {
  Member& m = members_[conn.id];
  text_.clear();
  append_stamped_text(text_, Stamp{conn.id, m.sent, stamp_ns}, options_.payload);
  if (direct()) protocol_.direct(conn.out, m.destination, text_);
  else protocol_.publish(conn.out, m.destination, text_);
  if (!m.window.empty()) m.window[m.sent % m.window.size()].remaining = groups_[m.group].recipients;
  expect(conn, {Request::publish, m.sent});
  ++m.sent;
  ++correctness_.sent;
  queue(conn);
}

// Closed loop: top the publisher's window up again.
void Traffic::refill(Conn& conn) {
  Member& m = members_[conn.id];
  if (!sending_ || m.window.empty()) return;
  // --reconnect: nothing new goes on a connection told to go, nor before
  // a resumed one has caught up.
  if (!conn.ready || conn.told_to_leave || conn.closed) return;
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

void Traffic::on_ack(Member& m, std::uint64_t counter, bool ok, std::string_view detail) {
  if (counter != m.acked) {  // replies come in order: the population matched it to its request
    ++correctness_.errors;
    correctness_.note("the reply to message " + std::to_string(counter) + " came when " + std::to_string(m.acked) +
                      " was due: " + std::string(detail));
  }
  m.acked = counter + 1;
  if (!m.early.empty()) m.early.erase(counter);  // its deliveries are owed as usual now
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

// Live deliveries: a channel's seq must rise along one connection. With
// --reconnect a seq already counted (before the reconnect, or from history)
// is counted once, and what comes during a catch-up waits for it to end.
void Traffic::on_delivery(Conn& conn, const Frame& frame) {
  if (frame.payload.starts_with(probe_prefix)) {  // settle()'s, early or late: counted nowhere
    if (!settling_) return;  // a late one
    unsigned server = 0;
    const std::string_view number = frame.payload.substr(probe_prefix.size());
    std::from_chars(number.data(), number.data() + number.size(), server);
    if (server >= max_servers) return;  // none of ours
    std::uint64_t& left = unprobed_from_[conn.id];
    const std::uint64_t before = left;
    left &= ~(std::uint64_t{1} << server);
    if (before != 0 && left == 0) --unprobed_;
    return;
  }
  Member& receiver = members_[conn.id];
  if (frame.seq) {
    if (frame.seq <= receiver.live_last) {
      ++correctness_.out_of_order;
      correctness_.note(conn.nick + " got seq " + std::to_string(frame.seq) + " after " +
                        std::to_string(receiver.live_last));
    } else if (options_.reconnect && !receiver.publishes && frame.seq > receiver.live_last + 1) {
      // From the head its join or resume named on, a connection gets every
      // seq live but its own messages': a member that never publishes gets
      // them all, and a hole is a server that skipped some (they count as
      // lost, this only says where).
      ++live_holes_;
      correctness_.note(conn.nick + " got seq " + std::to_string(frame.seq) + " live right after " +
                        std::to_string(receiver.live_last) +
                        (receiver.live_last == receiver.anchor ? " (the head its join or resume named)" : "") +
                        ": the seqs between never came on that connection");
    }
    receiver.live_last = frame.seq;
  }
  if (options_.reconnect) {
    if (receiver.catching_up) {
      receiver.held.push_back({frame.seq, read_time_ns_, std::string(frame.payload)});
      return;
    }
    if (frame.seq && frame.seq <= receiver.last_seq) {
      ++repeats_;
      return;
    }
  }
  account(conn, frame.payload, frame.seq, read_time_ns_, false);
}

void Traffic::account(Conn& conn, std::string_view text, std::uint64_t seq, std::uint64_t read_ns,
                      bool from_history) {
  Member& receiver = members_[conn.id];
  if (seq > receiver.last_seq) receiver.last_seq = seq;
  const auto stamp = read_stamp(text);
  const Group& g = groups_[receiver.group];
  if (!stamp || stamp->publisher < g.base || stamp->publisher >= g.base + g.publishers) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " got a message that is not ours: " + std::string(text.substr(0, 60)));
    return;
  }
  if (stamp->publisher == conn.id) {
    if (from_history) return;  // a channel's history holds the member's own messages too
    // Redis cannot be told not to echo a subscribed publisher's messages:
    // the echo is work that server chose to do, not a delivery owed.
    if (protocol_.echoes_to_sender()) return;
    ++correctness_.errors;
    correctness_.note(conn.nick + " got its own message back");
    return;
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
  if (from_history) ++catch_up_messages_;
  Conn& publisher = *conns_[stamp->publisher];
  Member& pm = members_[publisher.id];
  if (options_.reconnect) {
    if (stamp->counter >= pm.acked) {
      ++pm.early[stamp->counter];
    } else if (!pm.unanswered.empty()) {
      // It happened after all: now every recipient is owed it.
      if (auto it = pm.unanswered.find(stamp->counter); it != pm.unanswered.end() && it->second++ == 0)
        correctness_.expected += g.recipients;
    }
  }
  const std::uint64_t now = read_ns;
  if (now >= measure_start_ && now < measure_end_) {
    ++result_.deliveries;
    result_.latency.record(now > stamp->sent_ns ? now - stamp->sent_ns : 0);
  }
  if (options_.scenario == Scenario::ramp) {
    ++step_deliveries_;
    step_latency_.record(now > stamp->sent_ns ? now - stamp->sent_ns : 0);
  }
  if (!pm.window.empty() && stamp->counter >= pm.done && stamp->counter < pm.sent) {
    --pm.window[stamp->counter % pm.window.size()].remaining;
    retire(publisher);
  }
}

void Traffic::on_event(Conn& conn, const Frame& frame) {
  if (frame.kind == FrameKind::delivery) on_delivery(conn, frame);
}

void Traffic::on_reply(Conn& conn, const Pending& request, const Frame& frame) {
  switch (request.what) {
    case Request::publish:
      on_ack(members_[conn.id], request.counter, frame.kind == FrameKind::ack, frame.detail);
      return retire(conn);
    case Request::history: return on_history(conn, frame);
    case Request::probe:
      if (frame.kind != FrameKind::ack) {
        ++correctness_.errors;
        correctness_.note(conn.nick + ": a probe was refused: " + std::string(frame.detail));
      }
      return;
    default:
      ++correctness_.errors;
      correctness_.note(conn.nick + " got a reply to a request traffic never sends");
      return;
  }
}

// --- --reconnect: unanswered messages, resumes and catch-ups ---------------

// The connection went with this message unanswered: it may or may not have
// happened. It is owed to no one unless it reaches someone (see account()).
void Traffic::unanswered(Member& m, std::uint64_t counter) {
  ++correctness_.unacknowledged;
  std::uint32_t seen = 0;
  if (auto it = m.early.find(counter); it != m.early.end()) {
    seen = it->second;
    m.early.erase(it);
  }
  m.unanswered[counter] = seen;
  if (seen > 0) correctness_.expected += groups_[m.group].recipients;
  if (!m.window.empty()) m.window[counter % m.window.size()].remaining = 0;  // the window does not wait for it
  m.acked = counter + 1;
}

void Traffic::on_connection_ended(Conn& conn) {
  Member& m = members_[conn.id];
  m.catching_up = false;
  m.held.clear();  // the next catch-up fetches them from history
  m.live_last = 0;
  for (const Pending& p : conn.requests)
    if (p.what == Request::publish) unanswered(m, p.counter);
  retire(conn);  // frees the window's slots of what went unanswered
}

void Traffic::on_resumed(Conn& conn, const Welcome& welcome) {
  Member& m = members_[conn.id];
  const Group& g = groups_[m.group];
  const ChannelHead* head = nullptr;
  for (const ChannelHead& c : welcome.channels)
    if (same_channel(c.channel, g.channel)) head = &c;
  if (!head) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " resumed its session without its channel " + g.channel);
    return;
  }
  if (head->epoch != m.epoch) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " resumed into a new epoch of " + g.channel + " (" + head->epoch + ", joined " +
                      m.epoch + "): its old seqs mean nothing");
    return;
  }
  m.catch_up_to = head->seq;
  m.live_last = m.anchor = head->seq;  // everything after the head comes live on this connection
  if (head->seq <= m.last_seq) return finish_catch_up(conn);
  m.catching_up = true;
  request_page(conn);
}

void Traffic::on_not_resumed(Conn& conn) {
  ++correctness_.errors;
  correctness_.note(conn.nick + "'s resume was answered resumed: false: its session was gone");
  Population::on_not_resumed(conn);  // joins again: what it missed counts as lost
}

void Traffic::on_quit_event(Conn& conn, const Frame& frame) {
  if (!options_.reconnect) return;  // counted; every member resumes, so a quit is an error here
  ++correctness_.errors;
  correctness_.note(conn.nick + " saw " + std::string(frame.detail) + " quit: a session ended");
}

void Traffic::request_page(Conn& conn) {
  Member& m = members_[conn.id];
  protocol_.history_after(conn.out, groups_[m.group].channel, m.last_seq, catch_up_page);
  expect(conn, {Request::history});
  queue(conn);
}

// A page of the catch-up: what it holds is counted like live messages, each
// seq once; the next page follows until the resumed head is reached.
void Traffic::on_history(Conn& conn, const Frame& frame) {
  Member& m = members_[conn.id];
  ++catch_up_pages_;
  const HistoryPage page = frame.kind == FrameKind::ack
                               ? parse_history(frame.line)
                               : HistoryPage{false, std::string(frame.detail), {}, {}, false};
  if (!page.ok) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " could not page history: " + page.error);
    return;
  }
  if (page.epoch != m.epoch) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " paged a new epoch of its channel (" + page.epoch + ")");
    return;
  }
  if (page.truncated) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " missed messages after seq " + std::to_string(m.last_seq) +
                      " that the history no longer holds (raise the servers' --history)");
  }
  const std::uint64_t before = m.last_seq;
  std::uint64_t previous = 0;
  for (const HistoryMessage& message : page.messages) {
    if (message.seq <= previous) {
      ++correctness_.out_of_order;
      correctness_.note(conn.nick + "'s history page has seq " + std::to_string(message.seq) + " after " +
                        std::to_string(previous));
    }
    previous = message.seq;
    if (message.seq <= m.last_seq) {
      ++repeats_;
      continue;
    }
    account(conn, message.text, message.seq, read_time_ns_, true);
  }
  // Done at the resumed head, or when a page moved nothing (what is
  // missing then counts as lost): never the same page twice.
  if (m.last_seq >= m.catch_up_to || m.last_seq == before) return finish_catch_up(conn);
  request_page(conn);
}

void Traffic::finish_catch_up(Conn& conn) {
  Member& m = members_[conn.id];
  m.catching_up = false;
  std::vector<Held> held;
  held.swap(m.held);
  for (const Held& h : held) {
    if (h.seq && h.seq <= m.last_seq) {
      ++repeats_;
      continue;
    }
    account(conn, h.text, h.seq, h.read_ns, false);
  }
  set_ready(conn);
  refill(conn);
}

void Traffic::send_scheduled(std::uint64_t now) {
  if (!sending_ || rate_ <= 0) return;
  for (int n = 0; n < max_sends_per_turn; ++n) {
    const auto due = schedule_origin_ + static_cast<std::uint64_t>(static_cast<double>(scheduled_) * 1e9 / rate_);
    if (due > now) return;
    Conn& conn = *conns_[publishers_[scheduled_ % publishers_.size()]];
    ++scheduled_;
    // --reconnect: a publisher away (or catching up) skips its turn.
    if (options_.reconnect && (!conn.ready || conn.told_to_leave)) continue;
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
  if (!options_.reconnect && members_[conn.id].publishes) ++publishers_closed_;  // it comes back otherwise
}

// Every reply is in and every delivery owed has come; with --reconnect,
// every member is back and caught up too.
bool Traffic::drained() const {
  for (const auto& conn : conns_) {
    if (!conn->closed && conn->pending_acks > 0) return false;
    if (options_.reconnect && !conn->ready) return false;
  }
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
  if (setting_up_ || settling_) return;
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
  result_.server = servers_text(options_);
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
  if (options_.servers.size() > 1 && !protocol_.subscribed_everywhere_on_ack()) settle();
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
  report_reconnects(result_);
  result_.catch_up_pages = catch_up_pages_;
  result_.catch_up_messages = catch_up_messages_;
  result_.repeats = repeats_;
  result_.live_holes = live_holes_;
  return result_;
}

}  // namespace

Result run_traffic(const Options& options, const Protocol& protocol) {
  Traffic traffic(options, protocol);
  return traffic.run();
}

}  // namespace parley::bench
