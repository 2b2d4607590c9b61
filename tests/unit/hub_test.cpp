// The hub driven by hand (hub_fixture.hpp): fake sessions stand in for
// transports, a fake clock for time, the real chat core answers.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "hub_fixture.hpp"
#include "parley/hub/close_reason.hpp"
#include "parley/hub/hub.hpp"

using namespace parley;
using namespace parley::test;

namespace {

bool contains(const std::vector<ConnId>& ids, ConnId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// A ping whose reply is about 80 bytes: a few fill a small max_pending / 4.
std::string long_id(int n) { return std::string(60, 'i') + std::to_string(n); }
std::string long_ping(int n) { return R"({"cmd":"ping","id":")" + long_id(n) + "\"}"; }

}  // namespace

// ---- the event batch --------------------------------------------------------

TEST_CASE("messages of one turn reach each recipient as one buffer shared by all") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");

  CHECK(f.line(a, say("#room", "one", 1)));
  CHECK(f.line(a, say("#room", "two", 2)));
  f.turn();

  REQUIRE(b.written.size() == 1);
  REQUIRE(c.written.size() == 1);
  CHECK(b.written[0].bytes.get() == c.written[0].bytes.get());  // shared, not copied
  CHECK(b.written[0].kind == OutputKind::event);
  std::vector<Json> got = f.lines_written(b);
  REQUIRE(got.size() == 2);
  CHECK(got[0]["event"] == "message");
  CHECK(got[0]["from"] == "alice");
  CHECK(got[0]["text"] == "one");
  CHECK(got[1]["text"] == "two");
  CHECK(got[1]["seq"].get<std::uint64_t>() == got[0]["seq"].get<std::uint64_t>() + 1);
  CHECK(got[0]["ts"].get<std::int64_t>() == f.clock.now);  // the hub's clock stamps messages

  std::vector<Json> replies = f.lines_written(a);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0]["ok"] == true);
  CHECK(replies[0]["id"] == 1);
  CHECK(replies[0]["seq"] == got[0]["seq"]);
  CHECK(replies[1]["id"] == 2);
  CHECK(replies[1]["seq"] == got[1]["seq"]);
  CHECK(events(replies, "message").empty());  // no echo of one's own message
}

TEST_CASE("a reply never overtakes an event queued for the same session before it") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");

  CHECK(f.line(a, say("#room", "first", 1)));  // a batch is open for bob and carol
  CHECK(f.line(b, ping(7)));                    // bob's own reply in the same turn
  f.turn();

  std::vector<Json> got = f.lines_written(b);
  REQUIRE(got.size() == 2);
  CHECK(got[0]["event"] == "message");
  CHECK(got[0]["text"] == "first");
  CHECK(got[1]["ok"] == true);
  CHECK(got[1]["id"] == 7);
  // carol shares the batch bob's reply cut short
  REQUIRE(c.written.size() == 1);
  CHECK(c.written[0].bytes.get() == b.written[0].bytes.get());
}

TEST_CASE("events for different recipients do not share a buffer") {
  HubFixture f;
  FakeSession& a = f.connect("alice");
  FakeSession& b = f.connect("bob");
  FakeSession& c = f.connect("carol");
  for (FakeSession* s : {&a, &b}) f.join(*s, "#one");
  for (FakeSession* s : {&a, &b, &c}) f.join(*s, "#two");

  CHECK(f.line(a, say("#one", "to one", 1)));
  CHECK(f.line(a, say("#two", "to two", 2)));
  f.turn();

  REQUIRE(b.written.size() == 2);
  REQUIRE(c.written.size() == 1);
  CHECK(b.written[0].bytes.get() != b.written[1].bytes.get());
  CHECK(b.written[1].bytes.get() == c.written[0].bytes.get());
  std::vector<Json> to_bob = f.lines_written(b);
  REQUIRE(to_bob.size() == 2);
  CHECK(to_bob[0]["text"] == "to one");
  CHECK(to_bob[1]["text"] == "to two");
  std::vector<Json> to_carol = f.lines_written(c);
  REQUIRE(to_carol.size() == 1);
  CHECK(to_carol[0]["text"] == "to two");
}

// ---- flushing ----------------------------------------------------------------

TEST_CASE("sessions with events are flushed before sessions with only replies") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  FakeSession& d = f.connect("dave");

  CHECK(f.line(d, ping(1)));                   // replies only
  CHECK(f.line(c, ping(2)));                   // a reply first, then events
  CHECK(f.line(a, say("#room", "hello", 3)));  // events for bob and carol, a reply for alice
  f.turn();

  // Each flushed once: events first (bob, carol, in fan-out order), then the rest in order.
  CHECK(f.flush_order == std::vector<ConnId>{b.id(), c.id(), d.id(), a.id()});
  std::vector<Json> to_carol = f.lines_written(c);
  REQUIRE(to_carol.size() == 2);
  CHECK(to_carol[0]["id"] == 2);
  CHECK(to_carol[1]["event"] == "message");
}

// ---- slow consumers and reaping ---------------------------------------------------

TEST_CASE("a client that does not read is dropped as a slow consumer; the others are not") {
  HubFixture f(config(1024));
  auto [a, b, c] = f.three_in("#room");
  b.reads = false;

  const std::string text(100, 'x');
  int said = 0;
  while (b.open() && said < 50) {
    REQUIRE(f.line(a, say("#room", text, ++said)));
    f.turn();
  }
  REQUIRE_FALSE(b.open());
  CHECK(said > 1);  // not at the first message: the limit is on what piles up
  REQUIRE(b.close_reason == CloseReason::slow_consumer);
  CHECK(b.close_calls == 1);
  CHECK(b.transport_closed);  // slow_consumer does not wait for the queue to drain
  CHECK(b.written.empty());
  REQUIRE(b.farewell);
  std::vector<Json> farewell = parse_lines(*b.farewell);
  REQUIRE(farewell.size() == 1);
  CHECK(farewell[0]["event"] == "error");
  CHECK(farewell[0]["code"] == "slow_consumer");
  CHECK(f.hub.counters().closed[static_cast<std::size_t>(CloseReason::slow_consumer)] == 1);

  // Reaped in that turn: the others hear bob left, and why.
  for (FakeSession* s : {&a, &c}) {
    std::vector<Json> quits = events(f.lines_written(*s), "quit");
    REQUIRE(quits.size() == 1);
    CHECK(quits[0]["nick"] == "bob");
    CHECK(quits[0]["reason"] == "slow_consumer");
  }
  CHECK(a.open());
  CHECK(c.open());
  std::vector<Json> replies;
  for (const Json& j : f.lines_written(a))
    if (j.contains("ok")) replies.push_back(j);
  CHECK(replies.size() == static_cast<std::size_t>(said));
  for (const Json& r : replies) CHECK(r["ok"] == true);
  CHECK(events(f.lines_written(c), "message").size() == static_cast<std::size_t>(said));
}

TEST_CASE("a session past max_pending while it flushes to close is cut at once, with its farewell, once") {
  HubFixture f(config(2500));
  auto [a, b, c] = f.three_in("#room");
  b.reads = false;
  const std::string text(1000, 'x');
  REQUIRE(f.line(a, say("#room", text, 1)));
  f.turn();  // carol reads hers; bob's stays queued
  f.hub.fatal(b, ErrorCode::idle_timeout, "no request for 120 s");
  REQUIRE_FALSE(b.open());
  CHECK_FALSE(b.transport_closed);  // idle_timeout flushes first
  // Said before the reap, so the batch still goes to bob, who now holds more than he may.
  for (int i = 2; i <= 3; ++i) REQUIRE(f.line(a, say("#room", text, i)));
  f.turn();
  CHECK(b.aborts == 1);
  REQUIRE(b.abort_farewell);
  std::vector<Json> farewell = parse_lines(*b.abort_farewell);
  REQUIRE(farewell.size() == 1);
  CHECK(farewell[0]["code"] == "slow_consumer");
  CHECK(b.close_reason == CloseReason::idle_timeout);  // the close decided first stays the reason
  CHECK(c.open());  // the same batch, read in time
  REQUIRE(f.line(a, say("#room", text, 4)));
  f.turn();
  CHECK(b.aborts == 1);
}

TEST_CASE("a close decided during fan-out frees nothing until the reap, and its id is never reused") {
  HubFixture f(config(1024));
  auto [a, b, c] = f.three_in("#room");
  b.reads = false;
  const ConnId bob = b.id();

  // Each message alone fits in the limit; two do not.
  const std::string text(600, 'x');
  REQUIRE(f.line(a, say("#room", text, 1)));
  f.turn();
  REQUIRE(b.open());
  a.written.clear();
  c.written.clear();
  REQUIRE(f.line(a, say("#room", text, 2)));
  // carol's request hands the batch out: bob is closed inside send_batch, outside
  // before_sleep. (Her own queue is now past max_pending / 4: her input pauses.)
  f.line(c, ping(3));
  REQUIRE(b.close_reason == CloseReason::slow_consumer);
  CHECK(c.open());

  // Decided, not done: bob is still found and the chat still knows him.
  CHECK(f.hub.find(bob) == &b);
  CHECK(f.core.nick_of(bob) == "bob");
  REQUIRE(f.line(a, R"({"cmd":"members","channel":"#room","id":4})"));
  CHECK(f.backend.disconnected.empty());

  f.turn();  // the reap
  CHECK(f.backend.disconnected == std::vector<ConnId>{bob});
  CHECK_FALSE(f.core.nick_of(bob));
  std::vector<Json> to_alice = f.lines_written(a);
  REQUIRE(to_alice.size() == 3);  // say reply, members reply, quit
  CHECK(to_alice[1]["id"] == 4);
  CHECK(to_alice[1]["members"] == Json::array({"alice", "bob", "carol"}));
  CHECK(to_alice[2]["event"] == "quit");
  CHECK(to_alice[2]["nick"] == "bob");
  std::vector<Json> to_carol = f.lines_written(c);
  REQUIRE(to_carol.size() == 3);  // message, ping reply, quit
  CHECK(to_carol[1]["id"] == 3);
  CHECK(to_carol[2]["event"] == "quit");

  // Reaped but not released: the transport has not called back yet.
  CHECK(f.hub.find(bob) == &b);
  CHECK(f.hub.size() == 3);
  f.release(b);
  CHECK(f.hub.find(bob) == nullptr);
  CHECK(f.hub.size() == 2);

  // The slot is reused under a new number: bob's id names nobody, ever.
  FakeSession& d = f.connect("dave");
  CHECK(d.id() != bob);
  CHECK((d.id() & 0xffffffffu) == (bob & 0xffffffffu));
  CHECK(connection_number(d.id()) > connection_number(bob));
  CHECK(f.hub.find(bob) == nullptr);
}

// ---- admission ------------------------------------------------------------------------

TEST_CASE("beyond max_clients a session is refused with server_full and never reaches the backend") {
  HubFixture f(config(1 << 20, 2));
  FakeSession& a = f.connect("alice");
  f.connect("bob");

  FakeSession& third = f.add();
  CHECK_FALSE(f.hub.admit(third));
  CHECK_FALSE(third.open());
  REQUIRE(third.close_reason == CloseReason::server_full);
  CHECK(third.close_calls == 1);
  CHECK(flushes_first(*third.close_reason));  // its `error` event goes out first
  CHECK_FALSE(third.transport_closed);
  CHECK(f.hub.counters().refused == 1);
  CHECK(f.hub.admission().clients() == 2);

  // Its lines are ignored: no nick, no request, nothing in the chat.
  CHECK_FALSE(f.line(third, R"({"cmd":"hello","nick":"carol"})"));
  f.turn();
  CHECK_FALSE(f.core.nick_of(third.id()));
  CHECK(f.core.session_count() == 2);
  CHECK_FALSE(contains(f.backend.connected, third.id()));
  CHECK_FALSE(contains(f.backend.disconnected, third.id()));

  std::vector<Json> got = f.lines_written(third);
  REQUIRE(got.size() == 1);
  CHECK(got[0]["event"] == "error");
  CHECK(got[0]["code"] == "server_full");
  CHECK(third.transport_closed);
  f.release(third);

  // A slot frees when the close is decided, not when the transport is done.
  f.hub.close(a, CloseReason::eof);
  CHECK(f.hub.find(a.id()) == &a);
  CHECK(f.hub.admission().clients() == 1);
  FakeSession& fourth = f.add();
  CHECK(f.hub.admit(fourth));
  CHECK(fourth.open());
}

TEST_CASE("max_conns_per_ip refuses a second connection from one address, never Unix sockets") {
  HubFixture f(config(1 << 20, 64, 1));
  FakeSession& first = f.add("10.0.0.1:4000", TransportKind::tcp);
  REQUIRE(f.hub.admit(first));
  CHECK(f.hub.peer_known(first, "10.0.0.1"));

  FakeSession& second = f.add("10.0.0.1:4001", TransportKind::tcp);
  REQUIRE(f.hub.admit(second));
  CHECK_FALSE(f.hub.peer_known(second, "10.0.0.1"));
  CHECK_FALSE(second.open());
  CHECK(second.close_reason == CloseReason::server_full);
  std::vector<Json> told = f.lines_pending(second);
  REQUIRE(told.size() == 1);
  CHECK(told[0]["event"] == "error");
  CHECK(told[0]["code"] == "server_full");
  CHECK(f.hub.admission().connections_from("10.0.0.1") == 1);
  CHECK(f.hub.admission().clients() == 1);  // the refused one's client slot is back

  FakeSession& other = f.add("10.0.0.2:4000", TransportKind::tcp);
  REQUIRE(f.hub.admit(other));
  CHECK(f.hub.peer_known(other, "10.0.0.2"));

  for (int i = 0; i < 3; ++i) {
    FakeSession& u = f.add();
    REQUIRE(f.hub.admit(u));
    CHECK(f.hub.peer_known(u, ""));
    CHECK(u.open());
  }

  f.hub.close(first, CloseReason::eof);
  CHECK(f.hub.admission().connections_from("10.0.0.1") == 0);
  FakeSession& again = f.add("10.0.0.1:4002", TransportKind::tcp);
  REQUIRE(f.hub.admit(again));
  CHECK(f.hub.peer_known(again, "10.0.0.1"));
  CHECK(again.open());
  CHECK(f.hub.counters().refused == 1);
}

TEST_CASE("proxy_local (a balancer's health check) closes at once, counted under its own name, quietly") {
  HubFixture f;
  FakeSession& check = f.add("10.0.0.9:5000", TransportKind::tcp);
  REQUIRE(f.hub.admit(check));
  f.hub.close(check, CloseReason::proxy_local);
  CHECK_FALSE(check.open());
  CHECK(check.transport_closed);  // a health check is owed nothing: no flush first
  CHECK(check.pending.empty());   // ... and no `error` event
  CHECK(f.hub.counters().closed[static_cast<std::size_t>(CloseReason::proxy_local)] == 1);
  CHECK(f.hub.counters().refused == 0);
  CHECK(f.hub.admission().clients() == 0);
  f.turn();
  CHECK(contains(f.backend.disconnected, check.id()));
  f.release(check);

  CHECK(name(CloseReason::proxy_local) == "proxy_local");
  CHECK(wire_text(CloseReason::proxy_local) == "connection closed");
  CHECK_FALSE(fatal_code(CloseReason::proxy_local));
  // Logged at debug: the one quiet reason.
  for (std::size_t r = 0; r < close_reason_count; ++r)
    CHECK(quiet(static_cast<CloseReason>(r)) == (static_cast<CloseReason>(r) == CloseReason::proxy_local));
}

// ---- drain --------------------------------------------------------------------------

// SIGINT's drain: no grace, no window.
DrainPlan at_once(std::uint64_t retry_ms) { return {retry_ms, 0, 0, 42}; }

TEST_CASE("staggered drain: shutdown at once, nothing closed in the grace, then one close per slot") {
  HubFixture f;
  std::vector<FakeSession*> s;
  for (const char* nick : {"a1", "a2", "a3", "a4", "a5"}) s.push_back(&f.connect(nick));
  int empties = 0;
  const std::int64_t start = f.clock.now;
  f.drain({2000, 5000, 1000, 3}, [&] { ++empties; });
  f.turn();

  // Everyone told to go, each with its own retry_ms; no one closed yet.
  std::vector<std::uint64_t> retries;
  for (FakeSession* one : s) {
    CHECK(one->open());
    std::vector<Json> told = events(f.lines_written(*one), "shutdown");
    REQUIRE(told.size() == 1);
    retries.push_back(told[0]["retry_ms"].get<std::uint64_t>());
  }
  std::sort(retries.begin(), retries.end());
  CHECK(std::unique(retries.begin(), retries.end()) == retries.end());  // not all the same

  // The grace: drain_step says how long is left and closes no one.
  f.clock.now = start + 4000;
  CHECK(f.drain_step() == 1000);
  for (FakeSession* one : s) CHECK(one->open());
  // One leaves by itself in the grace.
  f.line(*s[1], R"({"cmd":"quit"})");  // false: the session closes
  f.turn();
  CHECK_FALSE(s[1]->open());

  // Grace over: four left, spread over 1000 ms, the oldest first.
  f.clock.now = start + 5000;
  CHECK(f.drain_step() == 250);
  CHECK(f.hub.drain_slots_left() == 3);
  CHECK(s[0]->close_reason == CloseReason::shutting_down);
  for (FakeSession* one : {s[2], s[3], s[4]}) CHECK(one->open());
  // s[3] leaves before its slot: its slot passes unused, the others keep theirs.
  f.line(*s[3], R"({"cmd":"quit"})");
  f.turn();
  f.clock.now = start + 5250;
  CHECK(f.drain_step() == 250);
  CHECK(s[2]->close_reason == CloseReason::shutting_down);
  CHECK(s[4]->open());
  f.clock.now = start + 5500;
  CHECK(f.drain_step() == 250);  // s[3]'s slot
  CHECK(s[4]->open());
  f.clock.now = start + 5750;
  CHECK(f.drain_step() == std::nullopt);  // every slot has come
  CHECK(s[4]->close_reason == CloseReason::shutting_down);
  std::vector<Json> last = f.lines_pending(*s[4]);
  REQUIRE_FALSE(last.empty());
  CHECK(last.back()["code"] == "shutting_down");  // the fatal error after what was queued

  f.turn();
  CHECK(empties == 0);
  for (FakeSession* one : s) f.release(*one);
  CHECK(empties == 1);
}

TEST_CASE("staggered drain: runs on the time it is given, whatever the wall clock does") {
  HubFixture f;
  std::vector<FakeSession*> s;
  for (const char* nick : {"c1", "c2"}) s.push_back(&f.connect(nick));
  const std::int64_t mono = 5000;
  f.hub.drain({2000, 1000, 1000, 1}, mono, [] {});
  f.clock.now -= 3'600'000;  // the wall clock steps back an hour: nothing changes
  CHECK(f.hub.drain_step(mono + 999) == 1);
  CHECK(s[0]->open());
  CHECK(f.hub.drain_step(mono + 1000) == 500);
  CHECK(s[0]->close_reason == CloseReason::shutting_down);
  f.clock.now += 7'200'000;  // and forward two: still nothing early
  CHECK(f.hub.drain_step(mono + 1499) == 1);
  CHECK(s[1]->open());
  CHECK(f.hub.drain_step(mono + 1500) == std::nullopt);
  CHECK(s[1]->close_reason == CloseReason::shutting_down);
}

TEST_CASE("staggered drain: a stalled loop closes every overdue slot in one step") {
  HubFixture f;
  std::vector<FakeSession*> s;
  for (const char* nick : {"b1", "b2", "b3"}) s.push_back(&f.connect(nick));
  const std::int64_t start = f.clock.now;
  f.drain({2000, 100, 3000, 1}, [] {});
  f.clock.now = start + 100 + 2500;
  CHECK(f.drain_step() == std::nullopt);
  for (FakeSession* one : s) CHECK(one->close_reason == CloseReason::shutting_down);
}

TEST_CASE("drain tells each open session shutdown, then error shutting_down, then closes it") {
  HubFixture f;
  FakeSession& a = f.connect("alice");
  FakeSession& b = f.connect("bob");
  FakeSession& c = f.connect("carol");
  f.hub.close(c, CloseReason::quit);  // already closing: left to finish as it was

  int empties = 0;
  f.drain(at_once(1234), [&] { ++empties; });
  CHECK(f.hub.draining());
  for (FakeSession* s : {&a, &b}) {
    CHECK(s->close_reason == CloseReason::shutting_down);
    CHECK(s->close_calls == 1);
    std::vector<Json> told = f.lines_pending(*s);
    REQUIRE(told.size() == 2);
    CHECK(told[0]["event"] == "shutdown");
    CHECK(told[0]["retry_ms"] >= 617);  // 0.5-1.5x --shutdown-retry-ms
    CHECK(told[0]["retry_ms"] <= 1851);
    CHECK(told[1]["event"] == "error");
    CHECK(told[1]["code"] == "shutting_down");
  }
  CHECK(c.close_reason == CloseReason::quit);
  CHECK(c.close_calls == 1);
  CHECK(c.pending.empty());

  // No one new gets in.
  FakeSession& late = f.add();
  CHECK_FALSE(f.hub.admit(late));
  CHECK(late.close_reason == CloseReason::shutting_down);
  std::vector<Json> refused = f.lines_pending(late);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0]["code"] == "shutting_down");
  CHECK(f.hub.counters().refused == 1);

  f.turn();
  for (FakeSession* s : {&a, &b, &c, &late}) REQUIRE(s->transport_closed);
  CHECK(empties == 0);
  f.release(a);
  f.release(c);
  f.release(late);
  CHECK(empties == 0);  // bob is still there
  f.release(b);
  CHECK(empties == 1);
  f.turn();
  f.drain(at_once(1), [&] { ++empties; });  // a second drain does nothing
  CHECK(empties == 1);
}

TEST_CASE("drain with no session left runs on_empty at once") {
  HubFixture f;
  int empties = 0;
  f.drain(at_once(10), [&] { ++empties; });
  CHECK(empties == 1);
}

TEST_CASE("close_all_now closes open sessions with drain_forced and aborts closing ones") {
  HubFixture f;
  FakeSession& a = f.connect("alice");
  FakeSession& c = f.connect("carol");
  f.hub.close(c, CloseReason::eof);  // still flushing what it is owed
  REQUIRE_FALSE(c.transport_closed);

  f.hub.close_all_now();
  CHECK(a.close_reason == CloseReason::drain_forced);
  CHECK(a.close_calls == 1);
  CHECK(a.transport_closed);  // drain_forced does not flush first
  CHECK(a.aborts == 0);
  CHECK(c.close_reason == CloseReason::eof);
  CHECK(c.close_calls == 1);
  CHECK(c.aborts == 1);
  CHECK(f.hub.counters().closed[static_cast<std::size_t>(CloseReason::drain_forced)] == 1);
}

TEST_CASE("close_all_now in the drain's window: the open close now, the closing are cut, the slots left close no one") {
  HubFixture f;
  std::vector<FakeSession*> s;
  for (const char* nick : {"c1", "c2", "c3", "c4"}) s.push_back(&f.connect(nick));
  int empties = 0;
  const std::int64_t start = f.clock.now;
  f.drain({2000, 1000, 1000, 5}, [&] { ++empties; });  // slots at +1000, +1250, +1500, +1750
  f.turn();

  // Two slots pass: s[0] closes and is gone, s[1] is still flushing to close.
  s[1]->reads = false;
  f.clock.now = start + 1250;
  CHECK(f.drain_step() == 250);
  CHECK(s[0]->close_reason == CloseReason::shutting_down);
  CHECK(s[1]->close_reason == CloseReason::shutting_down);
  f.turn();
  f.release(*s[0]);
  REQUIRE_FALSE(s[1]->transport_closed);

  // The second signal.
  f.hub.close_all_now();
  for (FakeSession* one : {s[2], s[3]}) {
    CHECK(one->close_reason == CloseReason::drain_forced);
    CHECK(one->close_calls == 1);
    CHECK(one->transport_closed);
    CHECK(one->aborts == 0);
  }
  CHECK(s[1]->close_reason == CloseReason::shutting_down);
  CHECK(s[1]->close_calls == 1);
  CHECK(s[1]->aborts == 1);
  CHECK(s[1]->transport_closed);
  const HubCounters& counters = f.hub.counters();
  CHECK(counters.closed[static_cast<std::size_t>(CloseReason::drain_forced)] == 2);
  CHECK(counters.closed[static_cast<std::size_t>(CloseReason::shutting_down)] == 2);

  // The slots still to come find no one open, and the drain ends with the last release.
  f.clock.now = start + 1500;
  CHECK(f.drain_step() == 250);
  f.clock.now = start + 1750;
  CHECK(f.drain_step() == std::nullopt);
  for (FakeSession* one : {s[1], s[2], s[3]}) {
    CHECK(one->close_calls == 1);
    CHECK(one->aborts == (one == s[1] ? 1 : 0));
  }
  f.turn();
  CHECK(f.backend.disconnected.size() == 4);
  for (FakeSession* one : {s[1], s[2]}) f.release(*one);
  CHECK(empties == 0);
  f.release(*s[3]);
  CHECK(empties == 1);
}

TEST_CASE("admit() while a staggered drain runs refuses with shutting_down, in the grace and in the window") {
  HubFixture f;
  FakeSession& stays = f.connect("stays");
  FakeSession& other = f.connect("other");
  const std::int64_t start = f.clock.now;
  f.drain({2000, 1000, 1000, 9});
  f.turn();
  const std::size_t connected = f.backend.connected.size();

  auto check_refused = [&](FakeSession& late, std::uint64_t refused) {
    const std::size_t clients = f.hub.admission().clients();
    CHECK_FALSE(f.hub.admit(late));
    CHECK_FALSE(late.open());
    CHECK(late.close_reason == CloseReason::shutting_down);
    std::vector<Json> told = f.lines_pending(late);
    REQUIRE(told.size() == 1);  // the fatal error alone: no welcome, no shutdown event
    CHECK(told[0]["event"] == "error");
    CHECK(told[0]["code"] == "shutting_down");
    CHECK(f.hub.counters().refused == refused);
    CHECK(f.hub.admission().clients() == clients);   // no client slot taken
    CHECK(f.backend.connected.size() == connected);  // the backend never heard of it
  };

  f.clock.now = start + 500;  // the grace
  FakeSession& in_grace = f.add();
  check_refused(in_grace, 1);
  f.turn();
  f.release(in_grace);

  f.clock.now = start + 1000;  // the window: the two admitted sessions get its slots, the refused none
  CHECK(f.drain_step() == 500);
  CHECK(f.hub.drain_slots_left() == 1);
  CHECK(stays.close_reason == CloseReason::shutting_down);
  FakeSession& in_window = f.add();
  check_refused(in_window, 2);
  CHECK(other.open());
}

// ---- answers from elsewhere -----------------------------------------------------------

TEST_CASE("a deferred answer holds the session's next requests and keeps replies in request order") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  f.backend.defer_says = true;

  CHECK_FALSE(f.line(a, say("#room", "later", 1)));  // answered outside this turn
  CHECK_FALSE(f.line(a, ping(2)));                   // the transport keeps it
  REQUIRE(a.held.size() == 1);
  REQUIRE(f.backend.deferred.size() == 1);
  CHECK(a.pending.empty());

  // Meanwhile alice is sent something and flushed: still no more input while she awaits.
  f.backend.defer_says = false;
  REQUIRE(f.line(b, R"({"cmd":"topic","channel":"#room","topic":"news"})"));
  f.turn();
  CHECK(events(f.lines_written(a), "topic").size() == 1);
  CHECK(a.resumes == 0);
  CHECK(a.held.size() == 1);
  CHECK(events(f.lines_written(b), "message").empty());
  a.written.clear();
  b.written.clear();

  f.hub.answer(a.id(), std::move(f.backend.deferred[0].outcome));
  CHECK(a.resumes == 0);  // input resumes from the flush, in before_sleep
  f.turn();
  CHECK(a.resumes == 1);
  CHECK(a.held.empty());
  std::vector<Json> replies = f.lines_written(a);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0]["id"] == 1);
  CHECK(replies[0]["channel"] == "#room");
  CHECK(replies[1]["id"] == 2);
  std::vector<Json> to_bob = events(f.lines_written(b), "message");
  REQUIRE(to_bob.size() == 1);
  CHECK(to_bob[0]["from"] == "alice");
  CHECK(to_bob[0]["text"] == "later");
  CHECK(events(f.lines_written(c), "message").size() == 1);
}

TEST_CASE("an answer for a session that is gone still delivers its events to the others") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  f.backend.defer_says = true;

  CHECK_FALSE(f.line(a, say("#room", "parting words", 1)));
  const ConnId alice = a.id();
  f.hub.close(a, CloseReason::read_error);  // the connection died
  f.turn();
  f.release(a);
  REQUIRE(f.hub.find(alice) == nullptr);
  b.written.clear();

  REQUIRE(f.backend.deferred.size() == 1);
  f.hub.answer(alice, std::move(f.backend.deferred[0].outcome));
  f.turn();
  std::vector<Json> to_bob = events(f.lines_written(b), "message");
  REQUIRE(to_bob.size() == 1);
  CHECK(to_bob[0]["text"] == "parting words");
  CHECK(events(f.lines_written(c), "message").size() == 1);
  CHECK(b.open());
}

TEST_CASE("a half-close while an answer is pending: the reply goes out first, then the close") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  f.backend.defer_says = true;
  CHECK_FALSE(f.line(a, say("#room", "last words", 4)));
  f.hub.close(a, CloseReason::eof);  // the client has sent all it will
  f.turn();
  CHECK(a.open());
  REQUIRE(f.backend.deferred.size() == 1);
  a.written.clear();
  f.hub.answer(a.id(), std::move(f.backend.deferred[0].outcome));
  f.turn();
  const std::vector<Json> replies = f.lines_written(a);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0]["id"] == 4);
  CHECK(replies[0]["ok"] == true);
  CHECK_FALSE(a.open());
  CHECK(a.close_reason == CloseReason::eof);
}

TEST_CASE("a drain slot that comes while a deferred answer is pending closes right after the answer") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  f.backend.defer_says = true;
  CHECK_FALSE(f.line(a, say("#room", "in flight", 7)));
  REQUIRE(f.backend.deferred.size() == 1);

  f.drain(at_once(1000), [] {});
  CHECK(a.open());  // its slot came, but the answer is owed first
  CHECK(b.close_reason == CloseReason::shutting_down);
  f.hub.answer(a.id(), std::move(f.backend.deferred[0].outcome));
  CHECK(a.close_reason == CloseReason::shutting_down);
  std::vector<Json> told = f.lines_pending(a);
  REQUIRE(told.size() >= 3);
  CHECK(told[told.size() - 3]["event"] == "shutdown");
  CHECK(told[told.size() - 2]["id"] == 7);  // the reply, then
  CHECK(told.back()["code"] == "shutting_down");  // the fatal error last
}

TEST_CASE("an answer for a session already closing with a fatal error adds nothing after the error") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  f.backend.defer_says = true;
  CHECK_FALSE(f.line(a, say("#room", "too late", 3)));
  f.hub.fatal(a, ErrorCode::idle_timeout, "no input");
  f.hub.answer(a.id(), std::move(f.backend.deferred[0].outcome));
  std::vector<Json> told = f.lines_pending(a);
  REQUIRE_FALSE(told.empty());
  CHECK(told.back()["code"] == "idle_timeout");
  for (const Json& line : told) CHECK_FALSE(line.contains("id"));
  f.turn();
  CHECK(events(f.lines_written(b), "message").size() == 1);  // what alice did still happened
}

// ---- sessions and resume ------------------------------------------------------------------

TEST_CASE("a resume from a new connection replaces the open one: fatal replaced, and no quit for anyone") {
  HubFixture f(config(), with_grace(15000));
  auto [a, b, c] = f.three_in("#room");
  const std::string token = f.backend.welcome_session;
  FakeSession& again = f.add();
  REQUIRE(f.hub.admit(again));
  REQUIRE(f.line(again, R"({"cmd":"hello","nick":"carol","resume":")" + token + "\"}"));
  CHECK(c.close_reason == CloseReason::replaced);
  std::vector<Json> told = f.lines_pending(c);
  REQUIRE_FALSE(told.empty());
  CHECK(told.back()["code"] == "replaced");
  f.turn();
  std::vector<Json> welcome = f.lines_written(again);
  REQUIRE(welcome.size() == 1);
  CHECK(welcome[0]["resumed"] == true);
  f.release(c);
  f.turn();
  CHECK(events(f.lines_written(a), "quit").empty());
  CHECK(events(f.lines_written(b), "quit").empty());
  CHECK(f.hub.counters().closed[static_cast<std::size_t>(CloseReason::replaced)] == 1);
}

TEST_CASE("a held session's quit goes out from tick() once its grace is over") {
  HubFixture f(config(), with_grace(2000));
  auto [a, b, c] = f.three_in("#room");
  f.hub.close(c, CloseReason::eof);
  f.turn();
  f.release(c);
  f.turn();
  CHECK(events(f.lines_written(a), "quit").empty());
  CHECK(f.hub.tick() == 2000);
  f.clock.now += 1999;
  CHECK(f.hub.tick() == 1);
  f.clock.now += 1;
  CHECK(f.hub.tick() == std::nullopt);
  f.turn();
  std::vector<Json> quits = events(f.lines_written(a), "quit");
  REQUIRE(quits.size() == 1);
  CHECK(quits[0]["nick"] == "carol");
  CHECK(quits[0]["reason"] == "connection closed");
  CHECK(events(f.lines_written(b), "quit").size() == 1);
  CHECK(f.hub.backend().sizes().held == 0);
}

// ---- input backpressure --------------------------------------------------------------------

TEST_CASE("input pauses while a session's own replies back up, and resumes once they are written") {
  HubFixture f(config(1024));  // a session's replies may reach 256 bytes
  FakeSession& a = f.connect("alice");

  int n = 0;
  while (f.line(a, long_ping(n)) && n < 50) {
    CHECK(a.pending_bytes() <= 1024 / 4);
    ++n;
  }
  REQUIRE(n < 50);
  CHECK(n > 0);
  CHECK(a.input_paused);
  CHECK(a.pending_bytes() > 1024 / 4);
  for (int i = 1; i <= 3; ++i) f.line(a, long_ping(n + i));  // held by the transport
  CHECK(a.held.size() == 3);

  // A client that does not read keeps its input paused.
  a.reads = false;
  f.turn();
  CHECK(a.resumes == 0);
  // It reads again: the transport says it has more to write.
  a.reads = true;
  f.hub.mark_dirty(a);
  f.turn();
  CHECK(a.resumes == 1);
  CHECK(a.held.empty());
  CHECK_FALSE(a.input_paused);
  std::vector<Json> replies = f.lines_written(a);
  REQUIRE(replies.size() == static_cast<std::size_t>(n + 4));
  for (int i = 0; i < n + 4; ++i) CHECK(replies[static_cast<std::size_t>(i)]["id"] == long_id(i));
}

// ---- bad input ----------------------------------------------------------------------

TEST_CASE("a line that is not JSON is answered bad_json and the session stays open") {
  HubFixture f;
  FakeSession& a = f.connect("alice");
  CHECK(f.line(a, "{not json"));
  CHECK(f.line(a, R"({"cmd":"dance","id":5})"));
  f.turn();
  std::vector<Json> got = f.lines_written(a);
  REQUIRE(got.size() == 2);
  CHECK(got[0]["ok"] == false);
  CHECK(got[0]["error"]["code"] == "bad_json");
  CHECK(got[1]["ok"] == false);
  CHECK(got[1]["id"] == 5);
  CHECK(got[1]["error"]["code"] == "unknown_command");
  CHECK(a.open());
  CHECK(a.close_calls == 0);
  CHECK(f.line(a, ping(6)));  // and still answers
}

// A turn has a bounded number of rounds. A client that pipelined many
// requests, a `quit` last, is written to from both flush lists in the last
// round (a reply, then an event, queued before the turn); the turn ends with
// work left and the client's transport done. Its release must leave nothing
// of it on the hub's lists: the next turn would read freed memory (which the
// sanitizer build, tools/test, reports).
TEST_CASE("a session released after a turn that ran out of rounds is not touched again") {
  int reached = 0;
  for (int held = 0; held < 120; ++held) {
    HubFixture f(config(1024));
    FakeSession& a = f.connect("alice");
    FakeSession& y = f.connect("yan");
    for (FakeSession* s : {&a, &y}) f.join(*s, "#room");
    int n = 0;
    while (f.line(y, long_ping(n)) && n < 50) ++n;
    for (int i = 0; i < held; ++i) f.line(y, long_ping(++n));
    f.line(y, R"({"cmd":"quit"})");
    REQUIRE(f.line(a, say("#room", "bye", 1)));
    const bool left = f.turn();
    if (!left || !y.transport_closed) continue;
    ++reached;
    const ConnId yan = y.id();
    f.release(y);
    CHECK(f.hub.find(yan) == nullptr);
    for (int i = 0; i < 4 && f.turn(); ++i) {}
    CHECK_FALSE(f.turn());
    CHECK(a.open());
    CHECK(events(f.lines_written(a), "quit").size() == 1);
  }
  CHECK(reached > 0);  // the case above happened at least once
}

// ---- counters, per-session stats, readiness ---------------------------------------

TEST_CASE("counters: requests by command and result, lines and bytes both ways, deliveries, sessions by transport") {
  HubFixture f;
  auto [a, b, c] = f.three_in("#room");
  const HubCounters before = f.hub.counters();
  const SessionStats a_before = a.stats();
  const std::string said = say("#room", "hello", 1);
  CHECK(f.line(a, said));
  CHECK(f.line(a, "{not json"));
  f.turn();
  const HubCounters& after = f.hub.counters();
  const auto say_kind = static_cast<std::size_t>(CommandKind::say);
  const auto unknown = static_cast<std::size_t>(CommandKind::unknown);
  CHECK(after.requests[say_kind][0] == before.requests[say_kind][0] + 1);
  CHECK(after.requests[unknown][1 + static_cast<std::size_t>(ErrorCode::bad_json)] ==
        before.requests[unknown][1 + static_cast<std::size_t>(ErrorCode::bad_json)] + 1);
  CHECK(after.requests[static_cast<std::size_t>(CommandKind::join)][0] == 3);
  CHECK(after.lines_in == before.lines_in + 2);
  CHECK(after.deliveries == before.deliveries + 2);  // bob and carol, one message each
  CHECK(after.lines_out == before.lines_out + 4);    // two replies for alice, one event each for the others
  std::size_t written = 0;
  for (FakeSession* s : {&a, &b, &c})
    for (const Queued& q : s->written) written += q.bytes->size();
  CHECK(after.bytes_out - before.bytes_out <= written);
  CHECK(after.bytes_out > before.bytes_out);
  CHECK(after.open[static_cast<std::size_t>(TransportKind::unix_socket)] == 3);
  CHECK(after.open[static_cast<std::size_t>(TransportKind::tcp)] == 0);

  CHECK(a.stats().lines_in == a_before.lines_in + 2);
  CHECK(a.stats().lines_out == a_before.lines_out + 2);
  CHECK(a.stats().last_line_ms == f.clock.now);
  CHECK(a.stats().connected_ms == f.clock.now);
  f.hub.bytes_read(a, 100);
  CHECK(a.stats().bytes_in == a_before.bytes_in + 100);
  CHECK(f.hub.counters().bytes_in == before.bytes_in + 100);

  const SessionView view = f.hub.backend().view(a.id());
  CHECK(view.nick == "alice");
  CHECK(view.channels == std::vector<std::string>{"#room"});
  CHECK(f.hub.backend().sizes().users == 3);
  CHECK(f.hub.backend().sizes().channels == 1);
}

TEST_CASE("readiness: ready until full or draining, and says which") {
  HubFixture f(config(1 << 20, 2));
  CHECK(f.hub.readiness().ready);
  FakeSession& a = f.connect("alice");
  CHECK(f.hub.readiness().ready);
  f.connect("bob");
  CHECK_FALSE(f.hub.readiness().ready);
  CHECK(f.hub.readiness().why == "full");
  f.hub.close(a, CloseReason::eof);  // the slot frees with the decision
  CHECK(f.hub.readiness().ready);
  f.drain(at_once(1000), [] {});
  CHECK_FALSE(f.hub.readiness().ready);
  CHECK(f.hub.readiness().why == "draining");
}

TEST_CASE("pipelining: a backend that pipelines gets the next requests while answers are pending; replies in order") {
  HubConfig c = config();
  c.max_pipeline = 3;
  HubFixture f(c);
  auto [a, b, cc] = f.three_in("#room");
  f.backend.defer_says = true;
  f.backend.pipeline = true;
  a.written.clear();
  CHECK(f.line(a, say("#room", "one", 1)));   // deferred, and more may come
  CHECK(f.line(a, ping(2)));                  // answered at once, but waits behind the say
  CHECK_FALSE(f.line(a, say("#room", "two", 3)));  // the third in flight: the pipeline is full
  REQUIRE(f.backend.deferred.size() == 2);
  f.turn();
  CHECK(f.lines_written(a).empty());  // nothing may overtake the first say's reply
  f.hub.answer(a.id(), std::move(f.backend.deferred[0].outcome));
  f.turn();
  std::vector<Json> replies = f.lines_written(a);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0]["id"] == 1);
  CHECK(replies[0]["seq"] == 1);
  CHECK(replies[1]["id"] == 2);
  a.written.clear();
  f.hub.answer(a.id(), std::move(f.backend.deferred[1].outcome));
  f.turn();
  replies = f.lines_written(a);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0]["id"] == 3);
  CHECK(replies[0]["seq"] == 2);
  // bob got both messages, in seq order.
  std::vector<Json> to_bob = events(f.lines_written(b), "message");
  REQUIRE(to_bob.size() == 2);
  CHECK(to_bob[0]["seq"] == 1);
  CHECK(to_bob[1]["seq"] == 2);
}

TEST_CASE("pipelining: a backend that does not pipeline holds the next request until the answer") {
  HubFixture f;
  auto [a, b, cc] = f.three_in("#room");
  f.backend.defer_says = true;
  CHECK_FALSE(f.line(a, say("#room", "one", 1)));
  REQUIRE(f.backend.deferred.size() == 1);
}
