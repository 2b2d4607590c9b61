// /connz (admin/endpoints.hpp) from a real hub of fake sessions
// (hub_fixture.hpp): paging and its refusals, the order, each connection's
// fields with the fake clock's times, odd names escaped, the page's bound.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "hub_fixture.hpp"
#include "parley/admin/endpoints.hpp"
#include "parley/hub/session_table.hpp"

using namespace parley;
using namespace parley::test;

namespace {

// The page for `query` at the fake clock's time, parsed; REQUIREs a 200 of JSON.
Json page(const HubFixture& f, std::string_view query, std::int64_t now_ms) {
  const HttpResponse r = connz(f.hub, query, now_ms);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.content_type == "application/json");
  CHECK(r.body.ends_with("}\n"));
  return Json::parse(r.body);
}
Json page(const HubFixture& f, std::string_view query = "") { return page(f, query, f.clock.now); }

std::vector<std::uint64_t> ids_of(const Json& connz) {
  std::vector<std::uint64_t> ids;
  for (const Json& c : connz["connections"]) ids.push_back(c["id"].get<std::uint64_t>());
  return ids;
}

// `n` sessions that have not said hello.
void add_sessions(HubFixture& f, int n) {
  for (int i = 0; i < n; ++i) REQUIRE(f.hub.admit(f.add()));
}

}  // namespace

TEST_CASE("connz: limit from 1 to 1000; 0, 1001 and garbage are 400, and so is a bad offset") {
  HubFixture f;
  add_sessions(f, 3);
  for (std::string_view bad : {"limit=0", "limit=1001", "limit=abc", "limit=", "limit", "limit=-1", "limit=5x",
                               "limit=+5", "limit= 5", "limit=18446744073709551617", "offset=1&limit=0"}) {
    INFO(bad);
    const HttpResponse r = connz(f.hub, bad, f.clock.now);
    CHECK(r.status == 400);
    CHECK(r.body == "limit must be a whole number from 1 to 1000\n");
  }
  for (std::string_view bad : {"offset=x", "offset=", "offset=-1", "offset=1.5", "limit=5&offset=99999999999999999999"}) {
    INFO(bad);
    const HttpResponse r = connz(f.hub, bad, f.clock.now);
    CHECK(r.status == 400);
    CHECK(r.body == "offset must be a whole number\n");
  }
  CHECK(page(f)["limit"] == connz_default_limit);
  CHECK(page(f, "limit=1")["connections"].size() == 1);
  CHECK(page(f, "limit=1000")["limit"] == 1000);
  CHECK(page(f, "other=1&limit=2")["connections"].size() == 2);  // other names are passed over
}

TEST_CASE("connz: an offset at or past the end gives an empty page with the total") {
  HubFixture f;
  add_sessions(f, 3);
  for (std::string_view query : {"offset=3", "offset=4", "offset=1000", "offset=18446744073709551615&limit=1000"}) {
    INFO(query);
    const Json p = page(f, query);
    CHECK(p["total"] == 3);
    CHECK(p["connections"].empty());
  }
  const Json tail = page(f, "offset=2&limit=5");
  CHECK(tail["offset"] == 2);
  CHECK(tail["connections"].size() == 1);
}

TEST_CASE("connz: sorted by id whatever the table's slot order, and paged in that order") {
  HubFixture f;
  std::vector<FakeSession*> s;
  for (int i = 0; i < 4; ++i) s.push_back(&f.add());
  f.hub.close(*s[0], CloseReason::eof);
  f.turn();
  f.release(*s[0]);
  FakeSession& reused = f.add();  // the newest connection, in the oldest's slot
  std::vector<std::uint64_t> slot_order;
  f.hub.for_each_session([&](const Session& one) { slot_order.push_back(connection_number(one.id())); });
  REQUIRE(slot_order.front() == connection_number(reused.id()));  // the table's order is not the ids'

  std::vector<std::uint64_t> want;
  for (FakeSession* one : {s[1], s[2], s[3], &reused}) want.push_back(connection_number(one->id()));
  CHECK(ids_of(page(f)) == want);
  CHECK(ids_of(page(f, "limit=2")) == std::vector<std::uint64_t>{want[0], want[1]});
  CHECK(ids_of(page(f, "limit=2&offset=2")) == std::vector<std::uint64_t>{want[2], want[3]});
  CHECK(page(f)["total"] == 4);
}

TEST_CASE("connz: one connection's fields; a closing session says so until it is released") {
  HubFixture f;
  FakeSession& a = f.connect("alice");
  f.join(a, "#room");
  f.join(a, "#other");
  FakeSession& b = f.connect("bob");
  f.join(b, "#room");
  FakeSession& tcp = f.add("192.0.2.7:4567", TransportKind::tcp);
  f.hub.bytes_read(a, 321);
  a.reads = false;  // what bob says waits in alice's queue
  REQUIRE(f.line(b, say("#room", "unread", 1)));
  f.turn();

  const Json p = page(f);
  REQUIRE(p["connections"].size() == 3);
  CHECK(p["now_ms"] == f.clock.now);
  CHECK(p["total"] == 3);
  CHECK(p["offset"] == 0);
  const Json& alice = p["connections"][0];
  CHECK(alice["id"] == connection_number(a.id()));
  CHECK(alice["transport"] == "unix");
  CHECK(alice["peer"] == "unix");
  CHECK(alice["state"] == "open");
  CHECK(alice["nick"] == "alice");
  CHECK(alice["channels"] == Json::array({"#room", "#other"}));
  CHECK(alice["bytes_in"] == 321);
  CHECK(alice["lines_in"] == 3);  // hello and two joins
  CHECK(alice["lines_out"] == a.stats().lines_out);
  CHECK(alice["bytes_out"] == a.stats().bytes_out);
  CHECK(alice["pending_bytes"] == a.pending_bytes());
  CHECK(a.pending_bytes() > 0);
  const Json& unregistered = p["connections"][2];
  CHECK(unregistered["transport"] == "tcp");
  CHECK(unregistered["peer"] == "192.0.2.7:4567");
  CHECK(unregistered["nick"].is_null());
  CHECK(unregistered["channels"] == Json::array());
  CHECK(unregistered["lines_in"] == 0);

  f.hub.close(a, CloseReason::eof);  // still flushing: alice does not read
  CHECK(page(f)["connections"][0]["state"] == "closing");
  CHECK(page(f)["connections"][1]["state"] == "open");
  f.hub.close(tcp, CloseReason::quit);
  f.turn();
  f.release(tcp);
  CHECK(page(f)["total"] == 2);
}

TEST_CASE("connz: idle_ms since the last line (or the accept), age_ms since the accept, from the clock") {
  HubFixture f;
  const std::int64_t start = f.clock.now;
  FakeSession& a = f.connect("alice");  // accepted and said hello at `start`
  f.clock.now = start + 700;
  Json c = page(f)["connections"][0];
  CHECK(c["idle_ms"] == 700);
  CHECK(c["age_ms"] == 700);

  REQUIRE(f.line(a, ping(1)));
  f.clock.now = start + 1000;
  FakeSession& quiet = f.add();  // no line yet: idle since its accept
  f.clock.now = start + 1250;
  const Json p = page(f);
  CHECK(p["connections"][0]["idle_ms"] == 550);
  CHECK(p["connections"][0]["age_ms"] == 1250);
  CHECK(p["connections"][1]["id"] == connection_number(quiet.id()));
  CHECK(p["connections"][1]["idle_ms"] == 250);
  CHECK(p["connections"][1]["age_ms"] == 250);

  // A clock behind the accepts (the wall clock stepped back): 0, never negative.
  c = page(f, "", start - 5000)["connections"][0];
  CHECK(c["idle_ms"] == 0);
  CHECK(c["age_ms"] == 0);
}

TEST_CASE("connz: nicks and peers with quotes, backslashes, control characters and UTF-8 stay valid JSON") {
  HubFixture f;
  const std::string odd_peer = "peer \"quoted\" \\ \t tab";
  FakeSession& s = f.add(odd_peer);
  REQUIRE(f.hub.admit(s));
  // What another backend (a cluster's) might report: nothing here checks its nicks.
  const std::string odd_nick = std::string("n\"i\\c\nk\r\x01\x1f") + "\xc3\xa9\xe2\x82\xac";
  f.backend.nicks[s.id()] = odd_nick;
  f.add("bad \xff byte");  // not UTF-8: written as U+FFFD


  const HttpResponse r = connz(f.hub, "", f.clock.now);
  REQUIRE(r.status == 200);
  const Json p = Json::parse(r.body);  // throws, failing the test, if the escaping broke the JSON
  CHECK(p["connections"][0]["peer"] == odd_peer);
  CHECK(p["connections"][0]["nick"] == odd_nick);
  CHECK(p["connections"][1]["peer"] == "bad \xef\xbf\xbd byte");
  CHECK(r.body.find('\n') == r.body.size() - 1);  // no raw newline but the last
  for (char c : r.body.substr(0, r.body.size() - 1)) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE("connz: a page holds at most limit connections, 100 by default and 1000 at most") {
  HubFixture f(config(1 << 20, 2000));
  add_sessions(f, 1005);
  const Json first = page(f);
  CHECK(first["total"] == 1005);
  CHECK(first["connections"].size() == connz_default_limit);
  const Json most = page(f, "limit=1000");
  CHECK(most["connections"].size() == connz_max_limit);
  const Json rest = page(f, "limit=1000&offset=1000");
  CHECK(rest["connections"].size() == 5);
  CHECK(ids_of(rest).front() == ids_of(most).back() + 1);
}
