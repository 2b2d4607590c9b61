#include "parley/hub/hub.hpp"

#include <algorithm>
#include <cassert>

#include "parley/log/log.hpp"
#include "parley/protocol/encode.hpp"

namespace parley {

Hub::Hub(HubConfig config, Backend& backend, const Clock& clock)
    : config_(std::move(config)), backend_(backend), clock_(clock),
      admission_(config_.max_clients, config_.max_conns_per_ip) {}

// ---- sessions come and go --------------------------------------------------

Session& Hub::add(std::unique_ptr<Session> session) {
  Session& s = *session;
  sessions_.put(std::move(session));
  ++counters_.accepted;
  ++counters_.open[static_cast<std::size_t>(s.transport())];
  s.stats_.connected_ms = clock_.wall_ms();
  return s;
}

bool Hub::admit(Session& s) {
  if (!s.open()) return false;
  if (draining_) {
    ++counters_.refused;
    shut_down(s);
    return false;
  }
  if (std::optional<Error> refusal = admission_.admit()) {
    ++counters_.refused;
    fatal(s, refusal->code, refusal->message);
    return false;
  }
  s.counted_ = true;
  s.connected_ = true;
  backend_.connect(s.id());
  return true;
}

bool Hub::peer_known(Session& s, const std::string& ip) {
  if (!s.open()) return false;
  if (!s.counted_ip_.empty()) return true;
  if (std::optional<Error> refusal = admission_.admit_ip(ip)) {
    ++counters_.refused;
    if (!warned_per_ip_) {  // once: behind a balancer every client may share its address
      warned_per_ip_ = true;
      log::warn("--max-conns-per-ip (" + std::to_string(config_.max_conns_per_ip) + ") refused a client from " + ip +
                "; behind a load balancer, enable the PROXY protocol or exempt the balancer with "
                "--conn-limit-exempt (this is said once)");
    }
    fatal(s, refusal->code, refusal->message);
    return false;
  }
  s.counted_ip_ = ip;
  return true;
}

// Only from a transport's last close callback: never inside fan-out or a
// flush, so no list being walked can hold the session.
void Hub::release(Session& s) {
  assert(!s.open() && "a session is released only after its close was decided");
  // Whatever its dirty_ flag says: a before_sleep that ran out of rounds can
  // leave a stale entry behind (flushed from one list, still in another).
  std::erase(dirty_, &s);
  std::erase(dirty_replies_, &s);
  if (s.awaiting_) awaited_.erase(s.id());  // its answer, when it comes, finds no one
  --counters_.open[static_cast<std::size_t>(s.transport())];
  sessions_.erase(s.id());  // destroys it
  maybe_drained();
}

// ---- input -------------------------------------------------------------------

bool Hub::on_line(Session& s, std::string_view line) {
  if (!s.open()) return false;
  ++counters_.lines_in;
  ++s.stats_.lines_in;
  const std::int64_t now = clock_.wall_ms();
  s.stats_.last_line_ms = now;
  Request request = parse_request(line, config_.limits);
  // The chat part moves to the backend (the text travels on into its event);
  // the id stays here for the reply.
  std::optional<Outcome> outcome = backend_.handle(s.id(), std::move(static_cast<ChatRequest&>(request)),
                                                   now);
  if (!outcome || s.awaiting_) {
    // Answered later, or behind requests that are: replies keep request order.
    s.awaiting_ = true;
    awaited_[s.id()].push_back({request.kind, std::move(request.id), std::move(outcome)});
    if (may_send_more(s)) return true;
    s.input_held_ = true;
    return false;
  }
  dispatch(s, request.kind, request.id, *outcome);
  if (!s.open()) return false;
  if (input_backed_up(s)) {
    s.input_held_ = true;
    return false;
  }
  return true;
}

// The backend answers a session's deferred requests in the order they came
// (backend.hpp): each answer completes the oldest one still waiting, and
// replies go out from the front for as long as they are complete.
void Hub::answer(ConnId conn, Outcome outcome) {
  Session* s = sessions_.find(conn);
  auto waiting = awaited_.find(conn);
  // The asker is gone, or closing (a fatal error of its own must stay its
  // last line): what it did still reaches the others, the reply nobody.
  if (!s || !s->open() || waiting == awaited_.end()) {
    for (const Delivery& d : outcome.deliveries) deliver(d);
    if (waiting != awaited_.end() && (!s || !s->open())) awaited_.erase(waiting);
    if (s) s->awaiting_ = false;
    return;
  }
  std::vector<Awaited>& queue = waiting->second;
  for (Awaited& a : queue)
    if (!a.outcome) {
      a.outcome = std::move(outcome);
      break;
    }
  std::size_t done = 0;
  while (done < queue.size() && queue[done].outcome && s->open()) {
    dispatch(*s, queue[done].kind, queue[done].id, *queue[done].outcome);
    ++done;
  }
  if (!s->open() || done == queue.size()) {
    awaited_.erase(waiting);
    s->awaiting_ = false;
  } else {
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(done));
  }
  if (!s->open()) return;
  if (s->eof_when_answered_ && !s->awaiting_) return close(*s, CloseReason::eof);
  if (s->close_when_answered_ && !s->awaiting_) {
    shut_down(*s);
    return;
  }
  mark_dirty(*s, true);  // its flush hands over the requests held meanwhile
}

// Another request of a session that waits for answers may go to the backend
// when the backend takes it in order (Backend::pipelines) and fewer than
// --pipeline-depth are waiting already.
bool Hub::may_send_more(const Session& s) const {
  auto waiting = awaited_.find(s.id());
  const std::size_t in_flight = waiting == awaited_.end() ? 0 : waiting->second.size();
  return in_flight < config_.max_pipeline && !s.close_when_answered_ && backend_.pipelines(s.id()) &&
         !input_backed_up(s);
}

// Our own replies are bounded by not reading more requests while the client
// is behind on reading what we already owe it.
bool Hub::input_backed_up(const Session& s) const { return s.pending_bytes() > config_.max_pending / 4; }

bool Hub::ready_for_input(const Session& s) const {
  return s.open() && !input_backed_up(s) && (!s.awaiting_ || may_send_more(s));
}

// The reply goes to the sender; each event is written once, into the open
// batch, whose bytes are later queued once for every recipient.
void Hub::dispatch(Session& from, CommandKind kind, const RequestId& id, const Outcome& outcome) {
  const auto* error = std::get_if<ErrorReply>(&outcome.reply);
  ++counters_.requests[static_cast<std::size_t>(kind)][error ? 1 + static_cast<std::size_t>(error->code) : 0];
  send(from, encode_reply(id, outcome.reply), OutputKind::reply);
  for (const Delivery& delivery : outcome.deliveries) deliver(delivery);
  if (outcome.replaced && *outcome.replaced != from.id())
    end_session(*outcome.replaced, ErrorCode::replaced, "another connection resumed this session");
  if (outcome.fatal) fatal(from, outcome.fatal->code, outcome.fatal->message);
  if (outcome.close) close(from, CloseReason::quit);
}

void Hub::deliver(const Delivery& delivery) {
  if (!batch_.accepts(delivery.to)) send_batch();
  batch_.add(delivery);
}

void Hub::push(const Outcome& outcome) {
  for (const Delivery& d : outcome.deliveries) deliver(d);
  if (outcome.replaced) end_session(*outcome.replaced, ErrorCode::replaced, "another connection resumed this session");
}

void Hub::deliver_line(const Recipients& to, std::string_view line) {
  if (!batch_.accepts(to)) send_batch();
  batch_.add_line(to, line);
}

void Hub::end_session(ConnId conn, ErrorCode code, std::string_view message) {
  if (Session* s = sessions_.find(conn)) fatal(*s, code, message);
}

void Hub::evict(ConnId conn, std::string_view reason, std::uint64_t retry_ms) {
  Session* s = sessions_.find(conn);
  if (!s || !s->open()) return;
  send(*s, encode_shutdown(reason, retry_ms), OutputKind::reply);
  if (s->awaiting_)
    s->close_when_answered_ = true;
  else
    shut_down(*s);
}

// ---- output --------------------------------------------------------------------

void Hub::send(Session& s, const Bytes& bytes, OutputKind kind) {
  before_send(s);
  enqueue(s, bytes, kind);
}

// Keeps each session's output in the order it was produced: whatever is
// queued for a session directly first lets the open batch (events made
// earlier) go out, unless the session is the one the batch skips.
void Hub::before_send(const Session& s) {
  if (batch_.open() && s.id() != batch_.recipients().except) send_batch();
}

void Hub::send_batch() {
  if (!batch_.open()) return;
  const std::size_t events = batch_.events();
  const auto [to, bytes] = batch_.take();
  for (ConnId id : *to.list) {
    if (id == to.except) continue;
    if (Session* s = sessions_.find(id)) enqueue(*s, bytes, OutputKind::event, events);
  }
}

// May run inside fan-out: closes at most decide, nothing is freed.
void Hub::enqueue(Session& s, const Bytes& bytes, OutputKind kind, std::size_t lines) {
  if (s.cut_) return;
  s.enqueue(bytes, kind);
  mark_dirty(s, kind == OutputKind::reply);
  s.stats_.lines_out += lines;
  s.stats_.bytes_out += bytes->size();
  counters_.lines_out += lines;
  counters_.bytes_out += bytes->size();
  if (kind != OutputKind::event) return;
  counters_.deliveries += lines;
  if (s.pending_event_bytes() > config_.max_pending) drop_slow_consumer(s);
}

// Past --max-pending: an open session is closed as slow_consumer; one
// already flushing to close (drained, quitting) is cut now, as it would have
// been had it still been open, rather than kept until --drain-timeout.
void Hub::drop_slow_consumer(Session& s) {
  log::write(LogLevel::warn, connection_number(s.id()), s.peer(),
             "slow consumer: " + std::to_string(s.pending_bytes()) + " bytes unsent");
  if (s.open()) return close(s, CloseReason::slow_consumer);
  s.cut_ = true;
  s.abort(slow_consumer_farewell());
}

// A session with only replies queued is written after the ones with events,
// so a `say`'s deliveries do not wait behind its sender's reply (the sender,
// who has its answer one write later, is the only one to wait).
void Hub::mark_dirty(Session& s, bool replies_only) {
  if (!s.dirty_) {
    s.dirty_ = true;
    s.replies_only_ = replies_only;
    (replies_only ? dirty_replies_ : dirty_).push_back(&s);
  } else if (s.replies_only_ && !replies_only) {
    s.replies_only_ = false;
    dirty_.push_back(&s);  // its entry in dirty_replies_ finds it clean
  }
}

// ---- closing --------------------------------------------------------------------

void Hub::close(Session& s, CloseReason reason) {
  if (!s.open()) return;
  // Half-close with answers still to come: every request gets its reply
  // first (answer() closes once the last is out).
  if (reason == CloseReason::eof && s.awaiting_) {
    s.eof_when_answered_ = true;
    return;
  }
  s.closing_ = true;
  // The wire text, and the precise reason where several share one text.
  std::string what = "disconnected: " + std::string(wire_text(reason));
  if (name(reason) != wire_text(reason)) what += " (" + std::string(name(reason)) + ")";
  log::write(quiet(reason) ? LogLevel::debug : LogLevel::info, connection_number(s.id()), s.peer(), what);
  ++counters_.closed[static_cast<std::size_t>(reason)];
  // The slots free as soon as the close is decided, not when the socket is gone.
  if (s.counted_) admission_.leave();
  s.counted_ = false;
  if (!s.counted_ip_.empty()) admission_.leave_ip(s.counted_ip_);
  s.counted_ip_.clear();
  // A session refused at admission never reached the backend: nothing to tell it.
  if (s.connected_) closing_.emplace_back(s.id(), reason);
  if (flushes_first(reason)) mark_dirty(s, false);
  // Its queue is cut to the farewell (Session::close_transport): nothing joins it.
  if (reason == CloseReason::slow_consumer) s.cut_ = true;
  s.close_transport(reason, reason == CloseReason::slow_consumer ? slow_consumer_farewell() : Bytes());
}

void Hub::fatal(Session& s, ErrorCode code, std::string_view message) {
  if (!s.open()) return;
  log::write(LogLevel::info, connection_number(s.id()), s.peer(),
             std::string("fatal ") + std::string(to_string(code)) + ": " + std::string(message));
  send(s, encode_fatal(code, message), OutputKind::reply);
  close(s, close_reason_for(code));
}

Readiness Hub::readiness() const {
  if (draining_) return {false, "draining"};
  if (admission_.clients() >= config_.max_clients) return {false, "full"};
  if (const std::string_view why = backend_.unready(); !why.empty()) return {false, why};
  return {};
}

// ---- the loop's turn ------------------------------------------------------------

bool Hub::before_sleep() {
  for (int round = 0; round < max_rounds && work_left(); ++round) {
    reap_closing();
    send_batch();
    flush_dirty();
  }
  return work_left();
}

// Both lists are swapped with a second vector that keeps its capacity, so a
// busy turn allocates nothing here; what is added meanwhile waits for the
// next round.
void Hub::reap_closing() {
  reaping_.swap(closing_);
  for (const auto& [id, reason] : reaping_)
    for (const Delivery& d : backend_.disconnect(id, wire_text(reason), clock_.wall_ms()).deliveries) deliver(d);
  reaping_.clear();
}

void Hub::flush_dirty() {
  flushing_.swap(dirty_);
  flushing_replies_.swap(dirty_replies_);
  for (auto* list : {&flushing_, &flushing_replies_}) {
    for (Session* s : *list) {
      if (!s->dirty_) continue;  // already written from the first list
      s->dirty_ = false;
      s->flush();
      if (s->input_held_ && ready_for_input(*s)) {
        s->input_held_ = false;
        s->resume_input();
      }
    }
    list->clear();
  }
}

// ---- time ------------------------------------------------------------------------

std::optional<std::int64_t> Hub::tick() {
  const std::int64_t now = clock_.wall_ms();
  for (const Delivery& d : backend_.expire(now).deliveries) deliver(d);
  const std::optional<std::int64_t> next = backend_.next_expiry();
  if (!next) return std::nullopt;
  return std::max<std::int64_t>(*next - now, 0);
}

// ---- drain -----------------------------------------------------------------------

void Hub::drain(const DrainPlan& plan, std::int64_t now_ms, std::function<void()> on_empty) {
  if (draining_) return;
  draining_ = true;
  on_empty_ = std::move(on_empty);
  drain_.emplace(plan, now_ms);
  std::uint64_t jitter = plan.seed;
  sessions_.for_each([&](Session& s) {
    if (!s.open()) return;
    send(s, encode_shutdown("server shutting down", jittered_retry_ms(plan.retry_ms, jitter)), OutputKind::reply);
  });
  drain_step(now_ms);
  maybe_drained();
}

std::optional<std::int64_t> Hub::drain_step(std::int64_t now_ms) {
  if (!drain_) return std::nullopt;
  if (drain_->in_grace(now_ms)) return drain_->grace_end_ms() - now_ms;
  if (!drain_window_started_) start_window();
  for (const std::size_t due = drain_->due(now_ms); drain_next_ < due; ++drain_next_)
    if (Session* s = sessions_.find(drain_order_[drain_next_]); s && s->open()) close_for_drain(*s);
  if (drain_next_ >= drain_->slots()) return std::nullopt;
  return drain_->slot_ms(drain_next_) - now_ms;
}

// Nothing may follow the fatal error: a session waiting for a deferred
// answer gets the answer first, then the error (answer() sees the flag).
// The backend bounds how long an answer may take.
void Hub::close_for_drain(Session& s) {
  if (s.awaiting_)
    s.close_when_answered_ = true;
  else
    shut_down(s);
}

void Hub::shut_down(Session& s) { fatal(s, ErrorCode::shutting_down, "the server is shutting down"); }

// The grace is over: whoever is still open gets a slot, oldest first.
void Hub::start_window() {
  drain_window_started_ = true;
  sessions_.for_each([&](const Session& s) {
    if (s.open()) drain_order_.push_back(s.id());
  });
  std::sort(drain_order_.begin(), drain_order_.end());
  drain_->spread(drain_order_.size());
}

void Hub::close_all_now() {
  sessions_.for_each([&](Session& s) {
    if (s.open()) {
      close(s, CloseReason::drain_forced);
    } else if (!s.cut_) {
      s.cut_ = true;
      s.abort(Bytes());
    }
  });
}

Bytes Hub::slow_consumer_farewell() { return encode_fatal(ErrorCode::slow_consumer, "output not read fast enough"); }

void Hub::maybe_drained() {
  if (!draining_ || !sessions_.empty() || !on_empty_) return;
  auto on_empty = std::move(on_empty_);
  on_empty_ = nullptr;
  on_empty();
}

}  // namespace parley
