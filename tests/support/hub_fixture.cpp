#include "hub_fixture.hpp"

#include <memory>
#include <utility>
#include <variant>

#include <doctest/doctest.h>

#include "parley/log/log.hpp"

namespace parley::test {

bool FakeSession::feed(std::string_view line) {
  if (input_paused) {
    held.emplace_back(line);
    return false;
  }
  if (!hub_.on_line(*this, line)) input_paused = true;
  return !input_paused;
}

void FakeSession::enqueue(const Bytes& bytes, OutputKind kind) {
  if (transport_closed) return;  // nothing more can be written
  pending.push_back({bytes, kind});
}

void FakeSession::flush() {
  flush_log_.push_back(id());
  if (!reads || transport_closed) return;
  for (Queued& q : pending) written.push_back(std::move(q));
  pending.clear();
  if (close_reason) transport_closed = true;  // everything owed is written
}

void FakeSession::resume_input() {
  ++resumes;
  input_paused = false;
  while (!input_paused && !held.empty()) {
    const std::string line = std::move(held.front());
    held.pop_front();
    if (!hub_.on_line(*this, line)) input_paused = true;
  }
}

void FakeSession::close_transport(CloseReason reason, const Bytes& last) {
  ++close_calls;
  close_reason = reason;
  farewell = last;
  if (!flushes_first(reason)) transport_closed = true;
}

void FakeSession::abort(const Bytes& last) {
  ++aborts;
  abort_farewell = last;
  transport_closed = true;
}

std::size_t FakeSession::count(bool events_only) const {
  std::size_t n = 0;
  for (const Queued& q : pending)
    if (!events_only || q.kind == OutputKind::event) n += q.bytes->size();
  return n;
}

void TestBackend::connect(ConnId conn) {
  connected.push_back(conn);
  local_.connect(conn);
}

std::optional<Outcome> TestBackend::handle(ConnId conn, ChatRequest request, std::int64_t now_ms) {
  const bool defer = defer_says && request.kind == CommandKind::say;
  std::optional<Outcome> outcome = local_.handle(conn, std::move(request), now_ms);
  if (const auto* w = std::get_if<Welcome>(&outcome->reply)) welcome_session = w->session;
  if (!defer) return outcome;
  deferred.push_back({conn, std::move(*outcome)});
  return std::nullopt;
}

Outcome TestBackend::disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) {
  disconnected.push_back(conn);
  return local_.disconnect(conn, reason, now_ms);
}

SessionView TestBackend::view(ConnId conn) const {
  SessionView view = local_.view(conn);
  if (auto it = nicks.find(conn); it != nicks.end()) view.nick = it->second;
  return view;
}

HubConfig config(std::size_t max_pending, std::size_t max_clients, std::size_t per_ip) {
  HubConfig c;
  c.max_clients = max_clients;
  c.max_conns_per_ip = per_ip;
  c.max_pending = max_pending;
  return c;
}

std::vector<Json> parse_lines(const std::string& text) {
  std::vector<Json> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line ends with LF
    out.push_back(Json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::vector<Json> events(const std::vector<Json>& lines, std::string_view name) {
  std::vector<Json> out;
  for (const Json& j : lines)
    if (j.contains("event") && j["event"] == name) out.push_back(j);
  return out;
}

std::string say(std::string_view channel, std::string_view text, int id) {
  return R"({"cmd":"say","channel":")" + std::string(channel) + R"(","text":")" + std::string(text) +
         R"(","id":)" + std::to_string(id) + "}";
}

std::string ping(int id) { return R"({"cmd":"ping","id":)" + std::to_string(id) + "}"; }

ServerInfo with_grace(std::int64_t resume_grace_ms) {
  ServerInfo info;
  info.resume_grace_ms = resume_grace_ms;
  return info;
}

HubFixture::HubFixture(HubConfig c, ServerInfo info) : core(Limits{}, std::move(info)), hub(c, backend, clock) {
  log::set_level(LogLevel::error);  // closes and refusals are logged at info and warn
}

FakeSession& HubFixture::add(std::string peer, TransportKind transport) {
  auto owned = std::make_unique<FakeSession>(hub, hub.next_id(), transport, std::move(peer), flush_order);
  FakeSession& s = *owned;
  hub.add(std::move(owned));
  ids.push_back(s.id());
  return s;
}

FakeSession& HubFixture::connect(const std::string& nick) {
  FakeSession& s = add();
  REQUIRE(hub.admit(s));
  REQUIRE(line(s, R"({"cmd":"hello","nick":")" + nick + "\"}"));
  settle();
  return s;
}

void HubFixture::join(FakeSession& s, std::string_view channel) {
  REQUIRE(line(s, R"({"cmd":"join","channel":")" + std::string(channel) + "\"}"));
  settle();
}

HubFixture::Three HubFixture::three_in(std::string_view channel) {
  Three t{connect("alice"), connect("bob"), connect("carol")};
  for (FakeSession* s : {&t.a, &t.b, &t.c}) join(*s, channel);
  return t;
}

bool HubFixture::turn() {
  in_turn = true;
  const bool left = hub.before_sleep();
  in_turn = false;
  return left;
}

void HubFixture::settle() {
  turn();
  for (ConnId id : ids)
    if (auto* s = session(id)) s->written.clear();
  flush_order.clear();
}

void HubFixture::release(FakeSession& s) {
  REQUIRE_FALSE(in_turn);
  REQUIRE(s.transport_closed);
  hub.release(s);
}

void HubFixture::drain(const DrainPlan& plan, std::function<void()> on_empty) {
  hub.drain(plan, clock.now, std::move(on_empty));
}

std::optional<std::int64_t> HubFixture::drain_step() { return hub.drain_step(clock.now); }

}  // namespace parley::test
