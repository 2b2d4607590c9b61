// The hub driven by hand, for the unit tests of the hub and of what the
// admin listener reads from it: fake sessions stand in for transports, a
// fake clock for time, the real chat core answers. No loop, no sockets, no
// processes: a test's "turn" is one call of Hub::before_sleep(), and a
// transport's last close callback is a call of Hub::release() between turns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parley/chat/core.hpp"
#include "parley/hub/backend.hpp"
#include "parley/hub/clock.hpp"
#include "parley/hub/close_reason.hpp"
#include "parley/hub/drain_schedule.hpp"
#include "parley/hub/hub.hpp"
#include "parley/hub/session.hpp"
#include "wire.hpp"

namespace parley::test {

struct FakeClock final : Clock {
  std::int64_t now = 1'700'000'000'000;
  std::int64_t wall_ms() const override { return now; }
};

// One buffer as the hub queued it: the pointer is kept, so a test can tell
// a shared buffer from a copy.
struct Queued {
  Bytes bytes;
  OutputKind kind;
};

// What a transport does, recorded. Lines come in through feed(), which acts
// like a framer: while the hub has said to wait, lines are held and handed
// over again on resume_input().
class FakeSession final : public Session {
 public:
  FakeSession(Hub& hub, ConnId id, TransportKind transport, std::string peer, std::vector<ConnId>& flush_log)
      : Session(id, transport, std::move(peer)), hub_(hub), flush_log_(flush_log) {}

  // The client reads: a flush writes everything queued. When false it writes
  // nothing (a client that does not read).
  bool reads = true;

  std::deque<Queued> pending;
  std::vector<Queued> written;
  std::deque<std::string> held;  // lines the hub is not ready for
  bool input_paused = false;     // the hub said wait; resume_input() not yet called
  int resumes = 0;
  int aborts = 0;
  int close_calls = 0;
  std::optional<CloseReason> close_reason;
  Bytes farewell;
  Bytes abort_farewell;
  bool transport_closed = false;  // the transport is done: release() may follow

  // Hands a line to the hub, or holds it. Returns whether the hub takes the next line now.
  bool feed(std::string_view line);

  void enqueue(const Bytes& bytes, OutputKind kind) override;
  std::size_t pending_bytes() const override { return count(false); }
  std::size_t pending_event_bytes() const override { return count(true); }
  void flush() override;
  void resume_input() override;
  void close_transport(CloseReason reason, const Bytes& last) override;
  void abort(const Bytes& last) override;

 private:
  std::size_t count(bool events_only) const;

  Hub& hub_;
  std::vector<ConnId>& flush_log_;
};

// The real core behind LocalBackend, watched: who was connected and
// disconnected, and (when `defer_says`) every `say` answered later, its
// outcome kept for the test to hand to Hub::answer(). `nicks` stands in for
// what another backend (a cluster's) might report as a session's nick.
class TestBackend final : public Backend {
 public:
  explicit TestBackend(Core& core) : local_(core) {}

  struct Deferred {
    ConnId conn;
    Outcome outcome;
  };
  bool defer_says = false;
  bool pipeline = false;  // pipelines(): a session's next request may come while a say waits
  std::vector<Deferred> deferred;
  std::vector<ConnId> connected;
  std::vector<ConnId> disconnected;
  std::string welcome_session;  // the session token of the last welcome answered
  std::unordered_map<ConnId, std::string> nicks;  // view()'s nick instead of the core's

  void connect(ConnId conn) override;
  std::optional<Outcome> handle(ConnId conn, ChatRequest request, std::int64_t now_ms) override;
  Outcome expire(std::int64_t now_ms) override { return local_.expire(now_ms); }
  std::optional<std::int64_t> next_expiry() const override { return local_.next_expiry(); }
  Outcome disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) override;
  SessionView view(ConnId conn) const override;
  ChatSizes sizes() const override { return local_.sizes(); }
  bool pipelines(ConnId) const override { return pipeline; }

 private:
  LocalBackend local_;
};

HubConfig config(std::size_t max_pending = 1 << 20, std::size_t max_clients = 64, std::size_t per_ip = 0);

// Parsed lines are kept non-const in the tests: a missing field then reads
// as null and fails its CHECK, where const access would assert and abort.
std::vector<Json> parse_lines(const std::string& text);

template <class Buffers>
std::vector<Json> parse_buffers(const Buffers& buffers) {
  std::string text;
  for (const Queued& q : buffers) text += *q.bytes;
  return parse_lines(text);
}

// Events of one kind among what a session was sent.
std::vector<Json> events(const std::vector<Json>& lines, std::string_view name);

// Request lines.
std::string say(std::string_view channel, std::string_view text, int id);
std::string ping(int id);

// ServerInfo with --resume-grace at `resume_grace_ms`.
ServerInfo with_grace(std::int64_t resume_grace_ms);

struct HubFixture {
  explicit HubFixture(HubConfig c = config(), ServerInfo info = {});

  Core core;
  TestBackend backend{core};
  FakeClock clock;
  Hub hub;
  std::vector<ConnId> flush_order;  // every flush() in every session, in order
  std::vector<ConnId> ids;          // every session made, released or not
  bool in_turn = false;

  // A session as a transport makes it, not yet admitted.
  FakeSession& add(std::string peer = "unix", TransportKind transport = TransportKind::unix_socket);
  // An admitted session registered as `nick`, its welcome already written.
  FakeSession& connect(const std::string& nick);
  void join(FakeSession& s, std::string_view channel);

  // alice, bob and carol, each in `channel`.
  struct Three {
    FakeSession& a;
    FakeSession& b;
    FakeSession& c;
  };
  Three three_in(std::string_view channel);

  bool line(FakeSession& s, std::string_view json_text) { return s.feed(json_text); }

  // The loop's turn before it sleeps. Returns whether work was left over.
  bool turn();
  // A turn, and everything written so far forgotten: tests see only their own output.
  void settle();

  FakeSession* session(ConnId id) const { return static_cast<FakeSession*>(hub.find(id)); }

  // The transport's last close callback: never inside before_sleep.
  void release(FakeSession& s);

  // The drain as the loop starts and steps it, with the fake clock's time
  // standing for the loop's monotonic time too: the drain tests go through
  // these two, so a change to how the hub is told the time changes only
  // them (a test about the two clocks differing calls the hub itself).
  void drain(const DrainPlan& plan, std::function<void()> on_empty = [] {});
  std::optional<std::int64_t> drain_step();

  std::vector<Json> lines_written(const FakeSession& s) const { return parse_buffers(s.written); }
  std::vector<Json> lines_pending(const FakeSession& s) const { return parse_buffers(s.pending); }
};

}  // namespace parley::test
