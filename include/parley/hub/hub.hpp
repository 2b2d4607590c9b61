// The hub: every session, what they ask and what they are sent, with no
// loop and no sockets of its own. The net layer calls it from libuv's
// callbacks; transports call it about their sessions; tests drive it with
// fake sessions and a fake clock.
//
// One request's path: a transport hands a complete line to on_line(); the
// hub decodes it, the backend answers, the reply is queued for the sender
// and each event is written once into the open EventBatch, whose bytes are
// later queued for every recipient. before_sleep(), which the loop runs
// right before it blocks, reaps closed sessions (their `quit` events),
// hands out the batch and flushes every session with output, one vectored
// write each.
//
// Re-entrancy: no hub call frees a session except release(), which only a
// transport's last close callback makes. A close decided anywhere (inside
// fan-out included) marks the session and queues it for the next reap.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parley/chat/limits.hpp"
#include "parley/chat/outcome.hpp"
#include "parley/hub/admission.hpp"
#include "parley/hub/backend.hpp"
#include "parley/hub/clock.hpp"
#include "parley/hub/close_reason.hpp"
#include "parley/hub/drain_schedule.hpp"
#include "parley/hub/event_batch.hpp"
#include "parley/hub/session.hpp"
#include "parley/hub/session_table.hpp"

namespace parley {

// The bounds the hub enforces. parleyd fills them from its flags, whose
// defaults live in one place: parleyd/config.hpp.
struct HubConfig {
  Limits limits;
  std::size_t max_clients{};
  std::size_t max_conns_per_ip{};  // 0: no limit
  std::size_t max_pending{};       // bytes of unsent events per session
  // Requests of one session a backend that pipelines may work on at once
  // (the cluster's: they queue in order on its Redis connection).
  std::size_t max_pipeline = 64;
};

// Plain counters, incremented on the paths they count: array slots, no
// lookups, nothing per delivery but additions.
struct HubCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;      // admission said server_full or shutting_down
  std::uint64_t lines_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t lines_out = 0;    // queued for a session
  std::uint64_t bytes_out = 0;
  std::uint64_t deliveries = 0;   // events queued for a recipient (one per recipient per event)
  std::array<std::uint64_t, close_reason_count> closed{};  // by reason
  // Requests by command and result: [kind][0] answered ok, [kind][1 + code] with that error.
  std::array<std::array<std::uint64_t, error_code_count + 1>, command_kind_count> requests{};
  std::array<std::uint64_t, transport_kind_count> open{};  // sessions now, by transport
};

// Whether to send this server clients (/readyz), and if not, why.
struct Readiness {
  bool ready = true;
  std::string_view why;  // "draining", "full"; empty when ready
};

class Hub {
 public:
  Hub(HubConfig config, Backend& backend, const Clock& clock);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // ---- sessions come and go ----------------------------------------------

  // A fresh id for the session about to be made; add() it next.
  ConnId next_id() { return sessions_.next_id(); }
  Session& add(std::unique_ptr<Session> session);
  // Admits a session that add() took: a client slot, and the backend
  // learns of it. Otherwise it is told why (fatal server_full or
  // shutting_down) and closes; returns false.
  bool admit(Session& session);
  // The session's client address is known (at accept, or once a PROXY
  // header named it): counts it per IP, or closes it with server_full.
  // "" for Unix sockets (never limited). Returns whether it stays open.
  bool peer_known(Session& session, const std::string& ip);
  // Its transport has closed its last handle: the session is destroyed.
  void release(Session& session);
  // The transport read `bytes` from the session's client.
  void bytes_read(Session& session, std::size_t bytes) {
    session.stats_.bytes_in += bytes;
    counters_.bytes_in += bytes;
  }

  // ---- input -----------------------------------------------------------------

  // One complete request line. Returns whether the transport may hand over
  // the next one now; when false it keeps the rest and waits for
  // Session::resume_input(). (Reasons: the session is closing, its unsent
  // output, replies and events alike, backs up past max_pending / 4, or
  // the request is being answered outside this turn.)
  bool on_line(Session& session, std::string_view line);
  // The answer to the request the backend deferred for `conn`.
  void answer(ConnId conn, Outcome outcome);

  // ---- what the backend does of its own accord ---------------------------------
  // (cluster/: events from other servers, sessions another server took over.)
  // Each may run only from a loop callback, never inside another hub call.

  // Events and a `replaced` the backend decided outside any request.
  void push(const Outcome& outcome);
  // One event already written (a line with its LF, as the backplane carries
  // it) for `to`: batched with the events the hub writes itself.
  void deliver_line(const Recipients& to, std::string_view line);
  // Closes a session with the fatal `code`, after what is queued.
  void end_session(ConnId conn, ErrorCode code, std::string_view message);
  // Tells a session to reconnect (`shutdown` with `retry_ms`), then closes
  // it with `shutting_down`, as a drain would: its session is gone here.
  void evict(ConnId conn, std::string_view reason, std::uint64_t retry_ms);

  // ---- output ------------------------------------------------------------------

  // Queues bytes for one session outside the batch (pings, the PROXY
  // transport's own notices), after any events already batched for it.
  void send(Session& session, const Bytes& bytes, OutputKind kind);
  // The transport has more to write (a write completed, a close is pending).
  void mark_dirty(Session& session) { mark_dirty(session, false); }

  // ---- closing -----------------------------------------------------------------

  // Decides the close (once; later calls do nothing): frees the session's
  // admission slots at once, tells the transport, and queues the `quit`
  // for the next reap.
  void close(Session& session, CloseReason reason);
  // The `error` event, then close after what is queued.
  void fatal(Session& session, ErrorCode code, std::string_view message);

  // ---- the loop's turn ---------------------------------------------------------

  // Runs right before the loop blocks. Returns true when work is left over
  // for the next turn (the loop must then not block).
  bool before_sleep();

  // ---- time --------------------------------------------------------------------------

  // Lets the backend end what timed out (held sessions whose resume grace is
  // over: their `quit`s go out with the next turn). Returns the ms until it
  // should be called again, or nullopt when nothing is waiting.
  std::optional<std::int64_t> tick();

  // ---- drain -----------------------------------------------------------------------

  // Starts the staggered drain (drain_schedule.hpp has the timeline):
  // tells every open session to reconnect elsewhere (`shutdown`, each with
  // its own jittered retry_ms), and from now on admit() refuses. The closes
  // come from drain_step(), which the loop calls when it says. With no
  // grace and no window (SIGINT) every session is closed here and now.
  // `on_empty` runs once no session is left.
  // `now_ms` here and in drain_step() is monotonic time (the loop's), not
  // the wall clock: a clock step must neither stall nor rush the drain.
  void drain(const DrainPlan& plan, std::int64_t now_ms, std::function<void()> on_empty);
  // Closes, with shutting_down after what is queued, each session whose
  // slot has come (one waiting for a deferred answer: right after it).
  // Returns the milliseconds until the next slot, or nullopt once every
  // slot has passed (what is left is flushing to close). Closes sessions:
  // call it from the loop, never from inside a hub call.
  std::optional<std::int64_t> drain_step(std::int64_t now_ms);
  // A second signal: every session closes now.
  void close_all_now();
  bool draining() const { return draining_; }
  // Slots of the window not yet come (0 in the grace and once all have).
  std::size_t drain_slots_left() const { return drain_ ? drain_->slots() - std::min(drain_next_, drain_->slots()) : 0; }
  bool drain_in_window() const { return drain_window_started_; }

  // ---- read-only views ---------------------------------------------------------------

  std::size_t size() const { return sessions_.size(); }
  Session* find(ConnId id) const { return sessions_.find(id); }
  const HubCounters& counters() const { return counters_; }
  Readiness readiness() const;
  const Backend& backend() const { return backend_; }
  // Every session in id order's slot order (the admin's /connz); read-only.
  template <class Visit>
  void for_each_session(Visit&& visit) const {
    sessions_.for_each([&](const Session& s) { visit(s); });
  }
  const Admission& admission() const { return admission_; }
  const HubConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }  // the time the hub stamps with (the admin's idle and age)

 private:
  // Large enough that a read's worth of says (64 KiB) fans out as a few
  // batches; small enough to keep one queue entry's bytes modest.
  static constexpr std::size_t max_batch_bytes = 65536;
  // Rounds of reap-then-flush per turn; more work waits for the next turn.
  static constexpr int max_rounds = 8;

  void dispatch(Session& from, CommandKind kind, const RequestId& id, const Outcome& outcome);
  void deliver(const Delivery& delivery);
  void send_batch();
  void before_send(const Session& session);
  void enqueue(Session& session, const Bytes& bytes, OutputKind kind, std::size_t lines = 1);
  void drop_slow_consumer(Session& session);
  static Bytes slow_consumer_farewell();
  void mark_dirty(Session& session, bool replies_only);
  bool input_backed_up(const Session& session) const;
  bool ready_for_input(const Session& session) const;
  bool may_send_more(const Session& session) const;
  void reap_closing();
  void flush_dirty();
  bool work_left() const { return !closing_.empty() || !dirty_.empty() || !dirty_replies_.empty() || batch_.open(); }
  void maybe_drained();
  void start_window();
  void close_for_drain(Session& session);
  void shut_down(Session& session);  // the fatal shutting_down

  HubConfig config_;
  Backend& backend_;
  const Clock& clock_;
  SessionTable sessions_;
  Admission admission_;
  HubCounters counters_;
  // Events not yet queued: consecutive ones for the same recipients share
  // one buffer. Handed out before the loop writes, and before anything else
  // is queued for one of its recipients.
  EventBatch batch_{max_batch_bytes};
  std::vector<Session*> dirty_;           // to flush this turn
  std::vector<Session*> dirty_replies_;   // ... after those: replies only
  std::vector<Session*> flushing_;        // being flushed (swapped, so no allocation per turn)
  std::vector<Session*> flushing_replies_;
  std::vector<std::pair<ConnId, CloseReason>> closing_;  // to tell the backend about
  std::vector<std::pair<ConnId, CloseReason>> reaping_;  // being told
  // A session's requests waiting for their answers, oldest first: the ids
  // the replies will echo, and the outcome once it came (a request answered
  // at once behind others still waits its turn). Kept here rather than in
  // every session, since sessions wait only with a backend that defers.
  struct Awaited {
    CommandKind kind;
    RequestId id;
    std::optional<Outcome> outcome;
  };
  std::unordered_map<ConnId, std::vector<Awaited>> awaited_;
  bool draining_ = false;
  std::optional<DrainSchedule> drain_;
  std::vector<ConnId> drain_order_;  // slot k closes drain_order_[k] (oldest first)
  std::size_t drain_next_ = 0;       // the next slot to act on
  bool drain_window_started_ = false;
  bool warned_per_ip_ = false;  // the per-IP limit's hint was logged
  std::function<void()> on_empty_;
};

}  // namespace parley
