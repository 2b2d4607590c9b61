// Three parleyd on one real redis-server are one chat server: every command
// and event of the contract across instances, one seq order under
// concurrent publishers, resume on another instance, and the backplane's
// faults (Redis down, a server killed, a server's Redis connection killed).
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "cut_proxy.hpp"
#include "harness.hpp"
#include "redis_server.hpp"

using namespace parley::test;

namespace {

// Redis and `n` servers sharing it, each with an admin listener.
struct Cluster {
  explicit Cluster(std::size_t n, std::vector<std::string> extra = {}) {
    for (std::size_t i = 0; i < n; ++i) add(extra);
  }
  ServerProcess& add(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--cluster", redis.unix_url(), "--cluster-prefix", "t", "--node-id",
                                     "n" + std::to_string(servers.size()), "--admin", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    servers.push_back(std::make_unique<ServerProcess>(args));
    // Ready once the backplane is: /readyz answers 200.
    const std::string admin = servers.back()->admin_address();
    REQUIRE(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000));
    return *servers.back();
  }
  const std::string& at(std::size_t i) const { return servers.at(i)->address(); }

  RedisServer redis;
  std::vector<std::unique_ptr<ServerProcess>> servers;
};

json say(Client& c, const std::string& channel, const std::string& text) {
  json r = c.call({{"cmd", "say"}, {"channel", channel}, {"text", text}});
  REQUIRE(r["ok"] == true);
  return r;
}

// Stops Redis and waits until server 0 (started with a short
// --cluster-timeout) has given it up: a say of `on_first`, a client of
// server 0, times out, and its /readyz answers 503.
void stop_redis_for_first(Cluster& cluster, Client& on_first) {
  cluster.redis.pause();
  CHECK(on_first.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "maybe"}}, 5000)["error"]["code"] == "unavailable");
  const std::string admin = cluster.servers[0]->admin_address();
  CHECK(poll_until([&] { return http_get(admin, "/readyz").status == 503; }, 5000));
}

// `a` enters #r as ann, then `b` as bob, and ann sees bob arrive.
void enter_pair(Client& a, Client& b) {
  a.enter("ann", "#r");
  b.enter("bob", "#r");
  a.wait_event("join");
}

// `user` registers as `nick` and joins `channel`, where `watcher` sees it
// arrive; its hello reply (its session).
json enter_watched(Client& user, const std::string& nick, const std::string& channel, Client& watcher) {
  const json welcome = user.hello(nick);
  user.join(channel);
  watcher.wait_event("join");
  return welcome;
}

// `c` receives messages from..to of its channel, texts `prefix` + the
// number, in seq order, with no gap before or among them.
void receive_in_order(Client& c, int from, int to, const std::string& prefix) {
  for (int i = from; i <= to; ++i) {
    json m = c.wait_event("message", 10000);
    REQUIRE(m["seq"] == i);
    CHECK(m["text"] == prefix + std::to_string(i));
  }
  for (const json& e : c.events) CHECK(e["event"] != "gap");
}

// Cuts server `node`'s connection to Redis (named parleyd-NODE~INSTANCE in
// CLIENT LIST) and no other.
void kill_connection_of(RedisServer& redis, const std::string& node) {
  const std::string list = redis.command({"CLIENT", "LIST"});
  const std::size_t name = list.find(" name=parleyd-" + node + "~");
  REQUIRE(name != std::string::npos);
  const std::size_t line = list.rfind('\n', name);
  const std::size_t id = list.find("id=", line == std::string::npos ? 0 : line);
  REQUIRE(id < name);
  const std::string number = list.substr(id + 3, list.find(' ', id) - id - 3);
  REQUIRE(redis.command({"CLIENT", "KILL", "ID", number}) == "1");
}

// How many function calls Redis has run (INFO commandstats' cmdstat_fcall).
int fcall_count(RedisServer& redis) {
  const std::string info = redis.command({"INFO", "commandstats"});
  const std::string field = "cmdstat_fcall:calls=";
  const std::size_t at = info.find(field);
  return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + field.size());
}

// Reads what else comes within `ms`: no further message event may.
void expect_no_more_messages(Client& c, int ms = 300) {
  for (const json& e : c.events) REQUIRE(e.value("event", "") != "message");
  while (const std::optional<std::string> line = c.read_line(ms)) REQUIRE(json::parse(*line).value("event", "") != "message");
}

}  // namespace

TEST_CASE("cluster: hello names the node and offers the cluster; nicks are unique across servers") {
  Cluster cluster(2);
  Client a(cluster.at(0)), b(cluster.at(1));
  json w = a.hello("Ann");
  CHECK(w["server"]["node"] == "n0");
  CHECK(w["server"]["features"] == json::array({"resume", "cluster", "websocket"}));
  json taken = b.call({{"cmd", "hello"}, {"nick", "ANN"}});
  CHECK(taken["error"]["code"] == "nick_in_use");
  b.hello("Bob");
  CHECK(b.call({{"cmd", "nick"}, {"nick", "ann"}})["error"]["code"] == "nick_in_use");
}

TEST_CASE("cluster: join, say, msg, topic, nick, part and quit reach members on every server") {
  Cluster cluster(3);
  Client a(cluster.at(0)), b(cluster.at(1)), c(cluster.at(2));
  json ja = a.enter("ann", "#Room");
  CHECK(ja["members"] == json::array({"ann"}));
  CHECK(ja["seq"] == 0);
  json jb = b.enter("bob", "#room");
  CHECK(jb["channel"] == "#Room");  // as first created, on another server
  CHECK(jb["members"] == json::array({"ann", "bob"}));
  CHECK(jb["epoch"] == ja["epoch"]);
  CHECK(a.wait_event("join") == json({{"event", "join"}, {"channel", "#Room"}, {"nick", "bob"}}));
  c.enter("cy", "#ROOM");
  CHECK(a.wait_event("join")["nick"] == "cy");
  CHECK(b.wait_event("join")["nick"] == "cy");

  json ack = say(a, "#room", "hello from a");
  CHECK(ack["seq"] == 1);
  CHECK(ack["channel"] == "#Room");
  for (Client* other : {&b, &c}) {
    json m = other->wait_event("message");
    CHECK(m["from"] == "ann");
    CHECK(m["text"] == "hello from a");
    CHECK(m["seq"] == 1);
    CHECK(m["ts"] == ack["ts"]);
    CHECK(m["channel"] == "#Room");
  }
  CHECK(say(c, "#Room", "and from c")["seq"] == 2);
  CHECK(a.wait_event("message")["seq"] == 2);
  CHECK(b.wait_event("message")["seq"] == 2);

  json members = c.call({{"cmd", "members"}, {"channel", "#room"}});
  CHECK(members["members"] == json::array({"ann", "bob", "cy"}));
  json list = b.call({{"cmd", "list"}});
  CHECK(list["channels"] == json::array({{{"channel", "#Room"}, {"members", 3}, {"topic", nullptr}}}));
  json history = b.call({{"cmd", "history"}, {"channel", "#room"}});
  REQUIRE(history["messages"].size() == 2);
  CHECK(history["messages"][0]["text"] == "hello from a");
  CHECK(history["messages"][1]["from"] == "cy");
  CHECK(history["epoch"] == ja["epoch"]);

  json dm = c.call({{"cmd", "msg"}, {"to", "ANN"}, {"text", "psst"}});
  CHECK(dm["to"] == "ann");
  json got = a.wait_event("message");
  CHECK(got["from"] == "cy");
  CHECK(got["to"] == "ann");
  CHECK(got["text"] == "psst");
  CHECK_FALSE(got.contains("channel"));
  CHECK(c.call({{"cmd", "msg"}, {"to", "nobody"}, {"text", "x"}})["error"]["code"] == "no_such_nick");

  CHECK(b.call({{"cmd", "topic"}, {"channel", "#room"}, {"topic", "plans"}})["topic"] == "plans");
  CHECK(a.wait_event("topic") == json({{"event", "topic"}, {"channel", "#Room"}, {"nick", "bob"}, {"topic", "plans"}}));
  CHECK(c.wait_event("topic")["topic"] == "plans");
  CHECK(c.call({{"cmd", "topic"}, {"channel", "#room"}})["topic"] == "plans");

  CHECK(a.call({{"cmd", "nick"}, {"nick", "Anna"}})["nick"] == "Anna");
  CHECK(b.wait_event("nick") == json({{"event", "nick"}, {"old", "ann"}, {"new", "Anna"}}));
  CHECK(c.wait_event("nick")["new"] == "Anna");
  json after = c.call({{"cmd", "members"}, {"channel", "#room"}});
  CHECK(after["members"] == json::array({"Anna", "bob", "cy"}));

  CHECK(b.call({{"cmd", "part"}, {"channel", "#room"}, {"reason", "bye"}})["channel"] == "#Room");
  CHECK(a.wait_event("part") == json({{"event", "part"}, {"channel", "#Room"}, {"nick", "bob"}, {"reason", "bye"}}));
  CHECK(c.wait_event("part")["nick"] == "bob");
  CHECK(b.call({{"cmd", "say"}, {"channel", "#room"}, {"text", "x"}})["error"]["code"] == "not_in_channel");
  CHECK(b.call({{"cmd", "history"}, {"channel", "#room"}})["error"]["code"] == "not_in_channel");
  CHECK(b.call({{"cmd", "part"}, {"channel", "#nowhere"}})["error"]["code"] == "no_such_channel");

  CHECK(c.call({{"cmd", "quit"}, {"reason", "done"}})["ok"] == true);
  CHECK(a.wait_event("quit") == json({{"event", "quit"}, {"nick", "cy"}, {"reason", "done"}}));
  // cy is gone everywhere: its nick is free on another server.
  Client d(cluster.at(0));
  d.hello("cy");
}

TEST_CASE("cluster: concurrent publishers on three servers, one seq order for every member everywhere") {
  Cluster cluster(3);
  constexpr int per_publisher = 200;
  std::vector<std::unique_ptr<Client>> members, publishers;
  for (std::size_t i = 0; i < 6; ++i) {
    members.push_back(std::make_unique<Client>(cluster.at(i % 3)));
    members.back()->enter("m" + std::to_string(i), "#load");
  }
  for (std::size_t i = 0; i < 3; ++i) {
    publishers.push_back(std::make_unique<Client>(cluster.at(i)));
    publishers.back()->enter("p" + std::to_string(i), "#load");
  }
  // Pipelined: each publisher sends all its says at once.
  for (std::size_t i = 0; i < 3; ++i) {
    std::string batch;
    for (int k = 0; k < per_publisher; ++k)
      batch += json({{"cmd", "say"}, {"channel", "#load"}, {"text", "p" + std::to_string(i) + ":" + std::to_string(k)}}).dump() + "\n";
    publishers[i]->send_raw(batch);
  }
  for (auto& p : publishers)
    for (int k = 0; k < per_publisher; ++k) REQUIRE(p->next_reply(15000)["ok"] == true);
  const int total = 3 * per_publisher;
  std::vector<std::string> first;
  for (auto& m : members) {
    std::vector<std::string> order;
    std::uint64_t expected = 1;
    while (order.size() < static_cast<std::size_t>(total)) {
      json e = m->wait_event("message", 15000);
      REQUIRE(e["seq"] == expected);
      ++expected;
      order.push_back(e["text"]);
    }
    if (first.empty()) first = order;
    CHECK(order == first);
  }
}

TEST_CASE("cluster: a session resumes on another server; the grace running out sends one quit") {
  Cluster cluster(2, {"--resume-grace", "2"});
  Client watcher(cluster.at(0));
  watcher.enter("watcher", "#r");
  json welcome;
  {
    Client ann(cluster.at(0));
    welcome = ann.hello("ann");
    ann.join("#r");
    watcher.wait_event("join");
    say(ann, "#r", "one");
    watcher.wait_event("message");
    ann.reset();  // abrupt
  }
  // Every server's /metrics counts the cluster's held sessions (from Redis).
  const auto held_on = [&](std::size_t i) { return server_metric(*cluster.servers[i], "parley_sessions_held"); };
  CHECK(poll_until([&] { return held_on(1) == 1 && held_on(0) == 1; }, 5000));
  say(watcher, "#r", "while away");  // seq 2
  Client back(cluster.at(1));
  json resumed = back.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  REQUIRE(resumed["ok"] == true);
  CHECK(poll_until([&] { return held_on(0) == 0; }, 5000));
  CHECK(resumed["resumed"] == true);
  CHECK(resumed["server"]["node"] == "n1");
  CHECK(resumed["channels"] == json::array({{{"channel", "#r"}, {"seq", 2}, {"epoch", resumed["channels"][0]["epoch"]}}}));
  json missed = back.call({{"cmd", "history"}, {"channel", "#r"}, {"after", 1}});
  REQUIRE(missed["messages"].size() == 1);
  CHECK(missed["messages"][0]["text"] == "while away");
  say(watcher, "#r", "live");
  CHECK(back.wait_event("message")["text"] == "live");
  CHECK(say(back, "#r", "i am back")["seq"] == 4);
  CHECK(watcher.wait_event("message")["text"] == "i am back");
  // No event reached the watcher about any of this: only the messages.
  for (const json& e : watcher.events) CHECK(e["event"] == "message");

  // Now let the grace run out on the other server: one quit, to everyone.
  back.reset();
  json quit = watcher.wait_event("quit", 8000);
  CHECK(quit["nick"] == "ann");
  CHECK(quit["reason"] == "connection closed");
  Client again(cluster.at(1));
  again.hello("ann");  // the nick is free
  CHECK_FALSE(watcher.read_line(500));  // and there was one quit only
}

// protocol.md: a resume naming an expired session is a fresh registration.
// The sweep ends expired sessions four times a second; a hello between
// the grace's end and that sweep must not take one over either.
TEST_CASE("cluster: a resume after the grace ran out finds no session, though no sweep ended it yet") {
  Cluster cluster(2, {"--resume-grace", "30"});
  Client watcher(cluster.at(1));
  watcher.enter("watcher", "#r");
  auto ann = std::make_unique<Client>(cluster.at(0));
  const json welcome = enter_watched(*ann, "ann", "#r", watcher);
  ann.reset();
  REQUIRE(poll_until([&] { return cluster.redis.command({"HGET", "t:{u:ann}", "owner"}).empty(); }, 5000));  // held
  // Its grace over, while the sweep (which goes by t:held's scores) would
  // not come to it for a long time.
  cluster.redis.command({"HSET", "t:{u:ann}", "until", "1"});
  cluster.redis.command({"ZADD", "t:held", "99999999999999", "ann"});
  Client late(cluster.at(1));
  const json r = late.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  CHECK(r["ok"] == true);
  CHECK(r["resumed"] == false);
  const json quit = watcher.wait_event("quit");
  CHECK(quit["nick"] == "ann");
  CHECK(quit["reason"] == "connection closed");
  CHECK(cluster.redis.command({"ZSCORE", "t:held", "ann"}) == "(nil)");
}

// The only member parts and joins again, pipelined: Redis drops the
// channel and creates it anew (seq from 0, a new epoch) while this server
// kept it for the join. Its feed must follow the new life of the channel,
// not drop the new messages as seqs it delivered before.
TEST_CASE("cluster: part and join pipelined by the only member start the channel's sequence over") {
  Cluster cluster(2);
  Client ann(cluster.at(1));
  ann.hello("ann");
  const json first = ann.join("#r");
  for (int i = 1; i <= 3; ++i) say(ann, "#r", "old " + std::to_string(i));
  ann.send_raw(R"({"cmd":"part","id":1,"channel":"#r"})" "\n" R"({"cmd":"join","id":2,"channel":"#r"})" "\n");
  CHECK(ann.next_reply()["id"] == 1);
  const json again = ann.next_reply();
  REQUIRE(again["ok"] == true);
  CHECK(again["seq"] == 0);
  CHECK(again["epoch"] != first["epoch"]);
  Client bob(cluster.at(0));
  bob.enter("bob", "#r");
  ann.wait_event("join");
  CHECK(say(bob, "#r", "new 1")["seq"] == 1);
  const json m = ann.wait_event("message");
  CHECK(m["seq"] == 1);
  CHECK(m["text"] == "new 1");
  for (const json& e : ann.events) CHECK(e["event"] != "gap");
}

// --max-held bounds the held sessions of the whole cluster, in Redis: the
// hold that would pass it ends the one soonest to expire.
TEST_CASE("cluster: --max-held: past it the held session soonest to expire ends at once, with its quit") {
  Cluster cluster(2, {"--max-held", "2", "--resume-grace", "60"});
  Client watcher(cluster.at(1));
  watcher.enter("watcher", "#r");
  std::vector<std::unique_ptr<Client>> users;
  for (int i = 1; i <= 3; ++i) {
    users.push_back(std::make_unique<Client>(cluster.at(i % 2)));
    users.back()->enter("u" + std::to_string(i), "#r");
    watcher.wait_event("join");
  }
  for (int i = 0; i < 3; ++i) {
    users[i].reset();
    const std::string key = "t:{u:u" + std::to_string(i + 1) + "}";
    if (i < 2) REQUIRE(poll_until([&] { return cluster.redis.command({"HGET", key, "owner"}).empty(); }, 5000));
  }
  const json quit = watcher.wait_event("quit");
  CHECK(quit["nick"] == "u1");
  CHECK(quit["reason"] == "connection closed");
  REQUIRE(poll_until([&] { return cluster.redis.command({"ZCARD", "t:held"}) == "2"; }, 5000));
  CHECK(cluster.redis.command({"ZSCORE", "t:held", "u1"}) == "(nil)");
  CHECK_FALSE(watcher.read_line(300));  // one quit only
}

TEST_CASE("cluster: the old connection of a session resumed elsewhere gets replaced") {
  Cluster cluster(2);
  Client first(cluster.at(0));
  json welcome = first.hello("ann");
  first.join("#r");
  Client second(cluster.at(1));
  json resumed = second.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  CHECK(resumed["resumed"] == true);
  json fatal = first.wait_event("error");
  CHECK(fatal["code"] == "replaced");
  CHECK(first.wait_closed());
  Client other(cluster.at(0));
  other.enter("bob", "#r");
  CHECK(second.wait_event("join")["nick"] == "bob");
}

TEST_CASE("cluster: Redis down means unavailable with retry_ms and /readyz 503; back, it all works again") {
  Cluster cluster(2, {"--cluster-timeout", "0.5"});
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  const std::string admin = cluster.servers[0]->admin_address();
  cluster.redis.pause();
  // Sent, then timed out: answered unavailable. (Redis may still run it when
  // it wakes: a timeout says nothing of whether a command took effect.)
  json r = a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "maybe"}}, 5000);
  CHECK(r["error"]["code"] == "unavailable");
  CHECK(r["error"]["retry_ms"].get<int>() > 0);
  CHECK(poll_until([&] { return http_get(admin, "/readyz").status == 503; }, 5000));
  // Now the connection is down: refused at once, still with retry_ms.
  CHECK(a.call({{"cmd", "join"}, {"channel", "#other"}}, 1000)["error"]["code"] == "unavailable");
  CHECK(a.call({{"cmd", "ping"}})["ok"] == true);  // ping still works, the connection stays
  cluster.redis.resume();
  CHECK(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000));
  json back = say(a, "#r", "back");
  // bob receives every message in seq order up to the acknowledged one.
  std::uint64_t seq = 0;
  json m;
  do {
    m = b.wait_event("message", 5000);
    CHECK(m["seq"] == ++seq);
  } while (m["text"] != "back" && seq < 3);
  CHECK(m["seq"] == back["seq"]);
}

// The contract: while the backplane is unreachable "ping and quit still
// work". A quit ends its session at once, with no hold: its reason reaches
// the others once Redis is back, not a "quit" after the resume grace.
// Only the first server loses Redis (its calls time out while Redis is
// stopped; the other's wait): the other stays subscribed, and hears of the
// quit the moment the first is back.
TEST_CASE("cluster: a quit while Redis is down closes at once; back, the others get it with its reason") {
  Cluster cluster(0);
  cluster.add({"--cluster-timeout", "0.5"});
  cluster.add({"--cluster-timeout", "30"});
  Client b(cluster.at(1)), a(cluster.at(0));
  b.enter("bob", "#r");
  a.enter("ann", "#r");
  b.wait_event("join");
  stop_redis_for_first(cluster, a);
  CHECK(a.call({{"cmd", "quit"}, {"reason", "bye"}}, 2000)["ok"] == true);
  CHECK(a.wait_closed());
  cluster.redis.resume();
  json quit = b.wait_event("quit", 8000);  // the grace is 15 s: this is the quit, not a hold running out
  CHECK(quit["nick"] == "ann");
  CHECK(quit["reason"] == "bye");
  Client again(cluster.at(1));
  again.hello("ann");  // the nick is free
}

// A connection that closes without quit while Redis is down is held, as
// any other: Redis hears of the hold when it is back, and the client may
// still resume within its grace (not a quit the moment Redis returns).
TEST_CASE("cluster: a connection lost while Redis is down is held once Redis is back, and resumes elsewhere") {
  Cluster cluster(0);
  cluster.add({"--cluster-timeout", "0.5", "--resume-grace", "30"});
  cluster.add({"--cluster-timeout", "30", "--resume-grace", "30"});
  Client watcher(cluster.at(1));
  watcher.enter("watcher", "#r");
  auto ann = std::make_unique<Client>(cluster.at(0));
  const json welcome = enter_watched(*ann, "ann", "#r", watcher);
  stop_redis_for_first(cluster, *ann);
  ann.reset();  // closed without quit, Redis away
  const std::string admin = cluster.servers[0]->admin_address();
  cluster.redis.resume();
  CHECK(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000));
  const std::string other = cluster.servers[1]->admin_address();
  CHECK(poll_until([&] { return http_get(other, "/readyz").status == 200; }, 10000));
  Client back(cluster.at(1));
  const json resumed = back.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  REQUIRE(resumed["resumed"] == true);
  CHECK(resumed["channels"][0]["channel"] == "#r");
  CHECK(say(back, "#r", "still here")["ok"] == true);
  json m = watcher.wait_event("message");
  if (m["text"] == "maybe") m = watcher.wait_event("message");  // timed out, yet Redis ran it when it woke
  CHECK(m["text"] == "still here");
  for (const json& e : watcher.events) CHECK(e["event"] != "quit");
}

// The last step of a drain is the server's goodbye to Redis, bounded by
// --cluster-timeout; a second SIGTERM then (a process manager's, a script's
// "all of them now") must not turn the clean exit into death by signal.
TEST_CASE("cluster: a SIGTERM while the drained server says goodbye to a paused Redis still exits 0") {
  Cluster cluster(1, {"--cluster-timeout", "1"});
  ServerProcess& server = *cluster.servers[0];
  cluster.redis.pause();
  REQUIRE(kill(server.pid(), SIGTERM) == 0);
  REQUIRE(server.wait_log("drained in "));
  REQUIRE(kill(server.pid(), SIGTERM) == 0);  // its leave is still waiting on Redis
  CHECK(server.wait_exit(5000) == 0);
  cluster.redis.resume();
}

// A drained server's sessions are held or resumed elsewhere before it says
// goodbye: it leaves the node set at once, rather than staying until a
// sweep finds its lease gone and logs it lost.
TEST_CASE("cluster: a drained server leaves the node set; a killed one stays until found lost") {
  Cluster cluster(3, {"--drain-grace", "0.2"});
  Client a(cluster.at(0)), b(cluster.at(1));
  a.enter("ann", "#r");
  b.enter("bob", "#r");
  REQUIRE(kill(cluster.servers[0]->pid(), SIGTERM) == 0);
  CHECK(cluster.servers[0]->wait_exit(10000) == 0);
  kill(cluster.servers[2]->pid(), SIGKILL);
  cluster.servers[2]->wait_exit(5000);
  // Members are NODE~INSTANCE, one per line.
  const std::string nodes = "\n" + cluster.redis.command({"SMEMBERS", "t:nodes"});
  CHECK(nodes.find("\nn0~") == std::string::npos);
  CHECK(nodes.find("\nn1~") != std::string::npos);
  CHECK(nodes.find("\nn2~") != std::string::npos);  // its lease runs out first
}

TEST_CASE("cluster: a killed Redis connection loses nothing: the gap is repaired from history") {
  Cluster cluster(2);
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  say(a, "#r", "m1");
  CHECK(b.wait_event("message")["seq"] == 1);
  // Cut bob's server's connection; messages published while it reconnects
  // reach it not over pub/sub.
  kill_connection_of(cluster.redis, "n1");
  for (int i = 2; i <= 20; ++i) say(a, "#r", "m" + std::to_string(i));
  receive_in_order(b, 2, 20, "m");
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_reconnects_total") == 1);
}

TEST_CASE("cluster: every server's connection killed (CLIENT KILL TYPE pubsub): says refused meanwhile go again, nothing lost") {
  Cluster cluster(2);
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  // Each server's one connection is a pub/sub client to Redis.
  CHECK(cluster.redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}) == "2");
  int unavailable = 0;
  for (int i = 1; i <= 20; ++i) {
    json r = a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "m" + std::to_string(i)}});
    // A say refused while the backplane reconnects did not happen: again,
    // once the server is ready.
    for (int tries = 0; r["ok"] != true && tries < 10; ++tries) {
      REQUIRE(r["error"]["code"] == "unavailable");
      ++unavailable;
      const std::string admin = cluster.servers[0]->admin_address();
      REQUIRE(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000));
      r = a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "m" + std::to_string(i)}});
    }
    REQUIRE(r["ok"] == true);
  }
  INFO("says answered unavailable: " << unavailable);
  receive_in_order(b, 1, 20, "m");
}

TEST_CASE("cluster: a server killed with -9 loses its sessions: quit \"server lost\" within lease + grace") {
  Cluster cluster(2, {"--node-lease", "1", "--resume-grace", "1"});
  Client watcher(cluster.at(0));
  watcher.enter("watcher", "#r");
  Client doomed(cluster.at(1));
  doomed.enter("doomed", "#r");
  watcher.wait_event("join");
  CHECK(cluster.servers[1]->stop(SIGKILL) == -1);  // died by the signal
  json quit = watcher.wait_event("quit", 10000);
  CHECK(quit["nick"] == "doomed");
  CHECK(quit["reason"] == "server lost");
  CHECK(watcher.call({{"cmd", "members"}, {"channel", "#r"}})["members"] == json::array({"watcher"}));
}

TEST_CASE("cluster: Redis restarted without persistence: clients are told to reconnect and see new epochs") {
  Cluster cluster(2);
  Client a(cluster.at(0)), b(cluster.at(1));
  a.enter("ann", "#r");
  const json before = b.enter("bob", "#r");
  a.wait_event("join");
  say(a, "#r", "before the restart");
  cluster.redis.restart();
  // Each server finds its lease and its sessions gone: reconnect, as after a drain.
  for (Client* c : {&a, &b}) {
    json shutdown = c->wait_event("shutdown", 10000);
    CHECK(shutdown["retry_ms"].get<int>() > 0);
    CHECK(c->wait_event("error")["code"] == "shutting_down");
    CHECK(c->wait_closed());
  }
  Client again(cluster.at(1));
  json w = again.call({{"cmd", "hello"}, {"nick", "bob"}, {"resume", "00000000000000000000000000000000"}});
  CHECK(w["resumed"] == false);
  const json after = again.join("#r");
  CHECK(after["epoch"] != before["epoch"]);  // how the client learns old seqs mean nothing
  CHECK(after["seq"] == 0);
  CHECK(after["members"] == json::array({"bob"}));
}

TEST_CASE("cluster: a server too slow for Redis's pub/sub output limit is cut off and repairs from history") {
  // Bob's client gets the repaired 2.4 MB at once: room for it.
  Cluster cluster(2, {"--history", "1000", "--max-pending", "8388608"});
  // Well above any one reply (Redis counts a reply's 16 KiB blocks, and a
  // repair reads 100 messages a page), well below what the says bring.
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0"});
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  const std::string text(4000, 'x');
  ::kill(cluster.servers[1]->pid(), SIGSTOP);  // a stalled server: Redis's buffer for it fills
  // More than the socket's own buffer (about 200 KiB on a Unix socket) and
  // Redis's limit together (2.4 MB): Redis cuts the server's connection.
  for (int i = 1; i <= 600; ++i) say(a, "#r", text + std::to_string(i));
  ::kill(cluster.servers[1]->pid(), SIGCONT);
  INFO(cluster.servers[1]->log());
  receive_in_order(b, 1, 600, text);
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_gap_repairs_total") >= 1);
  CHECK(metric_value(metrics, "parley_backplane_reconnects_total") >= 1);
}

// A gap is for what the history no longer holds. A repair whose read got
// no reply (here: its own reply over Redis's pub/sub output limit cut the
// connection) is tried again, and its members get every message.
TEST_CASE("cluster: a repair whose read gets no reply is tried again, not turned into a gap") {
  Cluster cluster(2, {"--history", "1000"});
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  // Below one repair page (100 messages of 4 KB), below what the says bring.
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 64kb 0 0"});
  const std::string text(4000, 'z');
  ::kill(cluster.servers[1]->pid(), SIGSTOP);  // Redis's buffer for it fills: it is cut off
  for (int i = 1; i <= 150; ++i) say(a, "#r", text + std::to_string(i));
  ::kill(cluster.servers[1]->pid(), SIGCONT);
  // Its repair's first page is over the limit too: that read gets no reply.
  REQUIRE(cluster.servers[1]->wait_log("got no reply", 1, 10000));
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 8mb 0 0"});
  INFO(cluster.servers[1]->log());
  receive_in_order(b, 1, 150, text);  // and no gap
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_gaps_sent_total") == 0);
}

TEST_CASE("cluster: what the history no longer has reaches the members as a gap") {
  Cluster cluster(2, {"--history", "5"});
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0"});
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  const std::string text(4000, 'y');
  ::kill(cluster.servers[1]->pid(), SIGSTOP);
  for (int i = 1; i <= 600; ++i) say(a, "#r", text);
  ::kill(cluster.servers[1]->pid(), SIGCONT);
  // Whatever got through before the cut, then one gap, then the last five.
  std::uint64_t next = 1;
  while (next <= 600) {
    json e = b.next(10000);
    if (e.value("event", "") == "message") {
      REQUIRE(e["seq"] == next);
      ++next;
    } else if (e.value("event", "") == "gap") {
      CHECK(e["channel"] == "#r");
      REQUIRE(e["from"] == next);
      CHECK(e["to"].get<std::uint64_t>() <= 595);
      next = e["to"].get<std::uint64_t>() + 1;
    }
  }
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_gaps_sent_total") == 1);
}

// With a large --max-text one `history` is read from Redis in several
// pages, each reply within Redis's output limit for the connection (here
// 8 MB; one 10 MB reply would cut it, for every session of the server), and
// the client gets one reply, as from one read.
TEST_CASE("cluster: history of large texts is read in pages, each within Redis's output limit") {
  Cluster cluster(1, {"--max-text", "1048576", "--max-line", "2097152"});
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 8mb 0 0"});
  Client a(cluster.at(0));
  a.enter("ann", "#big");
  const std::string text(1000000, 'h');
  for (int i = 1; i <= 12; ++i) say(a, "#big", text + std::to_string(i));
  auto seqs = [](const json& reply) {
    std::vector<int> out;
    for (const json& m : reply["messages"]) out.push_back(m["seq"].get<int>());
    return out;
  };
  const json newest = a.call({{"cmd", "history"}, {"channel", "#big"}, {"limit", 10}}, 20000);
  REQUIRE(newest["ok"] == true);
  CHECK(seqs(newest) == std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(newest["messages"][9]["text"] == text + "12");
  const json after = a.call({{"cmd", "history"}, {"channel", "#big"}, {"after", 1}, {"before", 12}, {"limit", 500}}, 20000);
  CHECK(seqs(after) == std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(after["truncated"] == false);
  const json page = a.call({{"cmd", "history"}, {"channel", "#big"}, {"before", 8}, {"limit", 4}}, 20000);
  CHECK(seqs(page) == std::vector<int>{4, 5, 6, 7});
  const std::string metrics = http_get(cluster.servers[0]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_reconnects_total") == 0);
}

// `list` walks the channels a page of calls at a time, each reply within
// 4 MiB (a topic here is 1 MB: 3 channels a page) and so within Redis's
// output limit for the connection (8 MB here): one call for all of them
// would be cut, for every session of the server.
TEST_CASE("cluster: list walks the channels in pages, each reply within Redis's output limit") {
  Cluster cluster(2, {"--max-text", "1048576", "--max-line", "2097152", "--max-channels", "200"});
  cluster.redis.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 8mb 0 0"});
  Client a(cluster.at(0));
  a.hello("ann");
  const std::string topic(1000000, 't');
  constexpr int channels = 140;  // more than Redis keeps in one small hash (128): HSCAN takes steps
  auto name_of = [](int i) {
    std::string n = std::to_string(1000 + i);
    return "#c" + n.substr(1);
  };
  for (int i = 0; i < channels; ++i) {
    REQUIRE(a.call({{"cmd", "join"}, {"channel", name_of(i)}})["ok"] == true);
    if (i % 14 == 0)
      REQUIRE(a.call({{"cmd", "topic"}, {"channel", name_of(i)}, {"topic", topic + name_of(i)}}, 10000)["ok"] == true);
  }
  Client b(cluster.at(1));
  b.hello("bob");
  const json list = b.call({{"cmd", "list"}}, 30000);
  REQUIRE(list["ok"] == true);
  REQUIRE(list["channels"].size() == static_cast<std::size_t>(channels));
  for (int i = 0; i < channels; ++i) {
    const json& c = list["channels"][static_cast<std::size_t>(i)];
    CHECK(c["channel"] == name_of(i));
    CHECK(c["members"] == 1);
    if (i % 14 == 0)
      CHECK(c["topic"] == topic + name_of(i));
    else
      CHECK(c["topic"].is_null());
  }
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_reconnects_total") == 0);
}

TEST_CASE("cluster: history and repairs see exactly the last --history messages, though Redis keeps more") {
  Cluster cluster(2, {"--history", "5"});
  // Says trim the stream by whole nodes; with nodes this large Redis keeps
  // every message, and only the readers' bound stands between a client and
  // more than --history.
  cluster.redis.command({"CONFIG", "SET", "stream-node-max-entries", "1000"});
  cluster.redis.command({"CONFIG", "SET", "stream-node-max-bytes", "0"});
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  // Bob's server away from pub/sub (stopped, its connection cut) while 150
  // messages go by: when it wakes, it repairs 1..150 from the history.
  ::kill(cluster.servers[1]->pid(), SIGSTOP);
  kill_connection_of(cluster.redis, "n1");
  for (int i = 1; i <= 150; ++i) say(a, "#r", "m" + std::to_string(i));
  CHECK(cluster.redis.command({"XLEN", "t:{c:#r}:log"}) == "150");
  ::kill(cluster.servers[1]->pid(), SIGCONT);
  json gap = b.wait_event("gap", 10000);
  CHECK(gap["from"] == 1);
  CHECK(gap["to"] == 145);
  receive_in_order(b, 146, 150, "m");

  json last = a.call({{"cmd", "history"}, {"channel", "#r"}, {"limit", 100}});
  REQUIRE(last["messages"].size() == 5);
  CHECK(last["messages"][0]["seq"] == 146);
  json since = a.call({{"cmd", "history"}, {"channel", "#r"}, {"after", 0}, {"limit", 100}});
  REQUIRE(since["messages"].size() == 5);
  CHECK(since["messages"][0]["seq"] == 146);
  CHECK(since["truncated"] == true);
  CHECK(a.call({{"cmd", "history"}, {"channel", "#r"}, {"before", 146}})["messages"].empty());
  // The previous release's servers, in a rolling upgrade, call the same
  // functions without the bound (history: 6 arguments; range: 4 or 5) and
  // read what Redis has, from seq 1 here.
  const std::string old_history = cluster.redis.command({"FCALL", "parley_history", "0", "t", "#r", "ann", "", "0", "100"});
  CHECK(old_history.find("\n1-0\n") != std::string::npos);
  CHECK(cluster.redis.command({"FCALL", "parley_range", "0", "t", "#r", "1", "3", "100"}).find("\n1-0\n") !=
        std::string::npos);
  CHECK(cluster.redis.command({"FCALL", "parley_range", "0", "t", "#r", "1", "3"}).find("\n1-0\n") !=
        std::string::npos);
}

TEST_CASE("cluster: the parley client rides out the backplane being away: unavailable, back off, resume") {
  Cluster cluster(1, {"--cluster-timeout", "0.3", "--resume-grace", "30"});
  CutProxy proxy(cluster.at(0), "cluster-client-proxy");
  Client bob(cluster.at(0));
  bob.enter("bob", "#t");
  ChildProcess parley({program("PARLEY"), "--nick", "alice", proxy.address()}, "", true);
  parley.write_input("/join #t\n");
  REQUIRE(parley.wait_output("] * joined #t (alice, bob)\n"));
  cluster.redis.pause();
  proxy.cut();
  proxy.restore();
  // Its resume is answered unavailable while Redis is away: it backs off and tries again.
  REQUIRE(parley.wait_output("unavailable", 1, 10000));
  REQUIRE(parley.wait_output("* reconnecting in ", 2, 10000));
  cluster.redis.resume();
  REQUIRE(parley.wait_output("* reconnected as alice, session resumed\n", 1, 20000));
  say(bob, "#t", "welcome back");
  REQUIRE(parley.wait_output("] <bob> welcome back\n"));
  parley.write_input("/quit\n");
  parley.close_input();
  CHECK(parley.wait() == 0);
}

TEST_CASE("cluster: a server paused past its lease takes its sessions back when it wakes; nobody sees a quit") {
  Cluster cluster(2, {"--node-lease", "1", "--resume-grace", "30"});
  Client watcher(cluster.at(0));
  watcher.enter("watcher", "#r");
  Client sleeper(cluster.at(1));
  sleeper.enter("sleeper", "#r");
  watcher.wait_event("join");
  ::kill(cluster.servers[1]->pid(), SIGSTOP);
  // The other server finds the lease gone and holds the sleeper's sessions.
  REQUIRE(cluster.servers[0]->wait_log("lost their lease", 1, 10000));
  ::kill(cluster.servers[1]->pid(), SIGCONT);
  REQUIRE(cluster.servers[1]->wait_log("taking back its sessions", 1, 10000));
  json r;
  REQUIRE(poll_until(
      [&] {
        r = sleeper.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "i was asleep"}});
        return r["ok"] == true;
      },
      10000, 100));
  json m = watcher.wait_event("message");
  CHECK(m["text"] == "i was asleep");
  for (const json& e : watcher.events) CHECK(e["event"] != "quit");
  const std::string metrics = http_get(cluster.servers[1]->admin_address(), "/metrics").body;
  CHECK(metric_value(metrics, "parley_backplane_lease_lost_total") == 1);
  CHECK(metric_value(metrics, "parley_backplane_up") == 1);
  CHECK(metric_value(metrics, "parley_backplane_command_seconds_count") > 0);
}

// "A server that cannot renew in time stops speaking for its sessions
// before the lease can expire": Redis stopped right after a renewal, the
// server must turn unready (and refuse requests) before that renewal's key
// would expire in Redis.
TEST_CASE("cluster: a server whose lease renewal stalls stops speaking for its sessions before the lease can expire") {
  Cluster cluster(1, {"--node-lease", "3", "--cluster-timeout", "20"});
  Client a(cluster.at(0));
  a.enter("ann", "#r");
  const std::string admin = cluster.servers[0]->admin_address();
  std::string key = cluster.redis.command({"KEYS", "t:lease:*"});
  key.erase(key.find_last_not_of("\r\n") + 1);
  REQUIRE(key.rfind("t:lease:n0~", 0) == 0);
  // Just after a renewal (the key's time to live near the whole lease), so
  // no other renewal lands between reading it and stopping Redis.
  long long ttl = 0;
  REQUIRE(poll_until([&] { return (ttl = std::stoll(cluster.redis.command({"PTTL", key}))) > 2900; }, 5000, 5));
  const auto expires = std::chrono::steady_clock::now() + std::chrono::milliseconds(ttl);
  cluster.redis.pause();
  REQUIRE(poll_until([&] { return http_get(admin, "/readyz").status == 503; }, 5000, 20));
  CHECK(std::chrono::steady_clock::now() < expires);
  CHECK(http_get(admin, "/readyz").body.find("lease not renewed") != std::string::npos);
  CHECK(a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "x"}}, 1000)["error"]["code"] == "unavailable");
  cluster.redis.resume();
  CHECK(poll_until([&] { return http_get(admin, "/readyz").status == 200; }, 10000));
  CHECK(a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "back"}})["ok"] == true);
}

namespace {

// An example client through a backplane outage: cut off while Redis is
// away, its resume is answered unavailable; it waits retry_ms, tries again,
// resumes once Redis is back, and prints what comes next.
void example_rides_out_outage(const std::vector<std::string>& command_prefix, const std::string& nick) {
  Cluster cluster(1, {"--cluster-timeout", "0.3", "--resume-grace", "30"});
  CutProxy proxy(cluster.at(0), "cluster-example-" + nick);
  Client host(cluster.at(0));
  host.enter("host", "#ex");
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {proxy.address(), nick, "#ex", "hello from " + nick, "2"});
  ChildProcess example(argv, "");
  CHECK(host.wait_event("message", 10000)["text"] == "hello from " + nick);
  say(host, "#ex", "one");
  REQUIRE(example.wait_output("<host> one\n"));
  cluster.redis.pause();
  proxy.cut();
  proxy.restore();
  REQUIRE(example.wait_output("reconnecting in", 2, 10000));  // the second after `unavailable`
  cluster.redis.resume();
  REQUIRE(example.wait_output("session resumed", 1, 15000));
  say(host, "#ex", "two");
  CHECK(example.wait() == 0);
  CHECK(count_of(example.output(), "<host> two\n") == 1);
}

}  // namespace

TEST_CASE("cluster: the Python example client rides out the backplane being away") {
  example_rides_out_outage({"python3", program("EXAMPLES_DIR") + "/client.py"}, "py");
}

TEST_CASE("cluster: the Node example client rides out the backplane being away") {
  example_rides_out_outage({"node", program("EXAMPLES_DIR") + "/client.mjs"}, "node");
}

TEST_CASE("cluster: until its own channels are subscribed a server answers unavailable, even with calls going through") {
  RedisServer redis;
  redis.command({"ACL", "SETUSER", "default", "-subscribe"});  // functions load and run, SUBSCRIBE not
  ServerProcess server({"--cluster", redis.unix_url(), "--cluster-prefix", "t", "--admin", "127.0.0.1:0"});
  REQUIRE(server.wait_log("backplane: subscribing to", 1, 10000));
  Client c(server.address());
  const json refused = c.call({{"cmd", "hello"}, {"nick", "ann"}});
  CHECK(refused["error"]["code"] == "unavailable");
  CHECK(refused["error"]["retry_ms"].is_number());
  CHECK(http_get(server.admin_address(), "/readyz").status == 503);
  redis.command({"ACL", "SETUSER", "default", "+subscribe"});
  REQUIRE(server.wait_log("backplane: up", 1, 10000));  // it reconnects by itself, after at most 5 s
  c.hello("ann");
  CHECK(c.join("#r")["members"] == json::array({"ann"}));
}

// A resume subscribes to each of the session's channels before it is
// answered. One Redis refuses: the session is held again and the client
// told unavailable (it tries again), not resumed deaf to that channel.
TEST_CASE("cluster: a resume whose channel cannot be subscribed is answered unavailable; again, it resumes whole") {
  Cluster cluster(2, {"--resume-grace", "30"});
  auto ann = std::make_unique<Client>(cluster.at(0));
  const json welcome = ann->hello("ann");
  ann->join("#r");
  ann.reset();
  REQUIRE(poll_until([&] { return cluster.redis.command({"HGET", "t:{u:ann}", "owner"}).empty(); }, 5000));  // held
  REQUIRE(poll_until([&] { return cluster.redis.command({"PUBSUB", "NUMSUB", "t:{c:#r}"}) == "t:{c:#r}\n0"; }, 5000));
  cluster.redis.command({"ACL", "SETUSER", "default", "resetchannels", "&t:users", "&t:to:*"});
  Client back(cluster.at(1));
  const json refused = back.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  REQUIRE(refused["ok"] == false);
  CHECK(refused["error"]["code"] == "unavailable");
  CHECK(refused["error"]["retry_ms"].is_number());
  cluster.redis.command({"ACL", "SETUSER", "default", "allchannels"});
  const json resumed = back.call({{"cmd", "hello"}, {"nick", "ann"}, {"resume", welcome["session"]}});
  REQUIRE(resumed["resumed"] == true);
  CHECK(resumed["channels"][0]["channel"] == "#r");
  Client bob(cluster.at(0));
  bob.enter("bob", "#r");
  say(bob, "#r", "can you hear me");
  CHECK(back.wait_event("message")["text"] == "can you hear me");
}

// After a reconnect a server subscribes again to every channel it has
// members in, each SUBSCRIBE a command in flight: with more channels than
// --cluster-max-in-flight, those it could not send go on the next ticks.
TEST_CASE("cluster: after a reconnect every channel is subscribed again, more of them than commands may be in flight") {
  Cluster cluster(2, {"--cluster-max-in-flight", "3", "--node-lease", "3"});
  Client ann(cluster.at(1)), bob(cluster.at(0));
  ann.hello("ann");
  bob.hello("bob");
  const std::vector<std::string> rooms = {"#a", "#b", "#c", "#d", "#e", "#f", "#g", "#h"};
  for (const std::string& room : rooms) {
    REQUIRE(ann.call({{"cmd", "join"}, {"channel", room}})["ok"] == true);
    REQUIRE(bob.call({{"cmd", "join"}, {"channel", room}})["ok"] == true);
    ann.wait_event("join");
  }
  kill_connection_of(cluster.redis, "n1");
  REQUIRE(cluster.servers[1]->wait_log("backplane: up", 2, 10000));
  for (const std::string& room : rooms) {
    const std::string pubsub = "t:{c:" + room + "}";
    REQUIRE(poll_until([&] { return cluster.redis.command({"PUBSUB", "NUMSUB", pubsub}) == pubsub + "\n2"; }, 10000));
  }
  for (const std::string& room : rooms) {
    REQUIRE(poll_until([&] { return bob.call({{"cmd", "say"}, {"channel", room}, {"text", room}})["ok"] == true; },
                       5000));
    CHECK(ann.wait_event("message")["text"] == room);
  }
}

TEST_CASE("cluster: functions Redis will not load (LOADING, OOM, an ACL): unavailable, retried until they load") {
  RedisServer redis;
  redis.command({"ACL", "SETUSER", "default", "-function"});  // HELLO and SUBSCRIBE pass, FUNCTION LOAD not
  ServerProcess server({"--cluster", redis.unix_url(), "--cluster-prefix", "t", "--admin", "127.0.0.1:0"});
  REQUIRE(server.wait_log("backplane: loading the functions failed", 2, 15000));  // tried again, not stuck
  Client c(server.address());
  CHECK(c.call({{"cmd", "hello"}, {"nick", "ann"}})["error"]["code"] == "unavailable");
  CHECK(http_get(server.admin_address(), "/readyz").status == 503);
  redis.command({"ACL", "SETUSER", "default", "+function"});
  REQUIRE(server.wait_log("backplane: up", 1, 10000));
  c.hello("ann");
  CHECK(c.join("#r")["members"] == json::array({"ann"}));
}

namespace {

// Takes the chat channels' pub/sub channels away from Redis's user (an
// ACL keeping only the server's own, t:users and t:to:*): a server stays
// ready, yet answers a join of a channel it has no members in
// `unavailable`, its SUBSCRIBE refused. allow_channels() undoes it. (The
// functions' PUBLISH to those channels is refused too: nothing here may
// publish in between.)
void forbid_channels(Cluster& cluster) {
  REQUIRE(cluster.redis.command({"ACL", "SETUSER", "default", "resetchannels", "&t:users", "&t:to:*"}) == "OK");
}

void allow_channels(Cluster& cluster) {
  REQUIRE(cluster.redis.command({"ACL", "SETUSER", "default", "allchannels"}) == "OK");
}

// `watcher` enters `channel` as "host" and sees `nick` there: in the members its join
// answers, or by the join event that follows.
void wait_member(Client& watcher, const std::string& channel, const std::string& nick) {
  const json members = watcher.enter("host", channel)["members"];
  if (std::find(members.begin(), members.end(), json(nick)) == members.end())
    REQUIRE(watcher.wait_event("join", 15000)["nick"] == nick);
}

// The one way a session comes back in no channel: cut off, its client
// waits out the grace (the proxy refuses it), registers anew while the
// server cannot subscribe, and has its join answered `unavailable`; it
// reconnects in time to resume that new session, which is in no channel. A client must
// then join again rather than wait for ever in no channel.
constexpr const char* join_again_grace = "4";

// Cuts the client off until its session, held meanwhile, has ended (its
// quit published); lets it back in once the channels are forbidden.
void cut_past_grace(Cluster& cluster, CutProxy& proxy) {
  ServerProcess& server = *cluster.servers.at(0);
  proxy.cut();
  REQUIRE(poll_until([&] { return server_metric(server, "parley_sessions_held") == 1; }, 10000));
  REQUIRE(poll_until([&] { return server_metric(server, "parley_sessions_held") == 0; }, 15000));
  forbid_channels(cluster);
  proxy.restore();
}

void example_joins_again(const std::vector<std::string>& command_prefix, const std::string& nick) {
  Cluster cluster(1, {"--resume-grace", join_again_grace});
  CutProxy proxy(cluster.at(0), "cluster-example-join-" + nick);
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {proxy.address(), nick, "#ex", "hello from " + nick, "1"});
  Client first(cluster.at(0));
  first.enter("first", "#ex");
  ChildProcess example(argv, "");
  REQUIRE(first.wait_event("message", 10000)["text"] == "hello from " + nick);
  // Once its quit is answered the example is the channel's one member here:
  // with it cut off, the server unsubscribes.
  REQUIRE(first.call({{"cmd", "quit"}})["ok"] == true);
  cut_past_grace(cluster, proxy);
  // Refused all the while, the example backs off up to 30 s between tries
  // (tools/examples): its next try may come that long after the restore.
  REQUIRE(example.wait_output("new session; joining #ex again", 1, 45000));
  REQUIRE(example.wait_output("not in #ex; joining it again", 1, 10000));
  allow_channels(cluster);
  Client host(cluster.at(0));
  wait_member(host, "#ex", nick);
  say(host, "#ex", "two");
  CHECK(example.wait() == 0);
  CHECK(count_of(example.output(), "<host> two\n") == 1);
}

}  // namespace

TEST_CASE("cluster: the Python example client joins again when its join was unavailable") {
  example_joins_again({"python3", program("EXAMPLES_DIR") + "/client.py"}, "py");
}

TEST_CASE("cluster: the Node example client joins again when its join was unavailable") {
  example_joins_again({"node", program("EXAMPLES_DIR") + "/client.mjs"}, "node");
}

TEST_CASE("cluster: the parley client joins again when its join was unavailable") {
  Cluster cluster(1, {"--resume-grace", join_again_grace});
  CutProxy proxy(cluster.at(0), "cluster-client-join");
  INFO(cluster.servers[0]->log());
  ChildProcess parley({program("PARLEY"), "--nick", "alice", proxy.address()}, "", true);
  INFO(parley.output());
  parley.write_input("/join #t\n");
  REQUIRE(parley.wait_output("] * joined #t (alice)\n"));
  cut_past_grace(cluster, proxy);
  REQUIRE(parley.wait_output("as a new session; joining #t again", 1, 20000));
  REQUIRE(parley.wait_output("not in #t any more; joining it again", 1, 10000));
  allow_channels(cluster);
  Client host(cluster.at(0));
  wait_member(host, "#t", "alice");
  say(host, "#t", "welcome back");
  REQUIRE(parley.wait_output("] <host> welcome back\n"));
  parley.write_input("/quit\n");
  parley.close_input();
  CHECK(parley.wait() == 0);
}

TEST_CASE("cluster: a channel Redis will not resubscribe after a reconnect is tried again, not left silent") {
  Cluster cluster(2);
  Client a(cluster.at(0)), b(cluster.at(1));
  enter_pair(a, b);
  // Redis drops the connections subscribed to a channel an ACL takes away:
  // both servers reconnect, their resubscription of #r is refused, so they
  // reconnect again (and again) instead of serving #r with nothing coming.
  forbid_channels(cluster);
  for (const auto& server : cluster.servers) {
    REQUIRE(server->wait_log("resubscribing to #r refused", 1, 10000));
    REQUIRE(poll_until([&] { return server_metric(*server, "parley_backplane_reconnects_total") >= 2; }, 10000));
  }
  allow_channels(cluster);
  // Once they are back, what ann says reaches bob (a say that meets her
  // server between connections is refused, and sent again).
  json r;
  for (int tries = 0; tries < 20 && r["ok"] != true; ++tries) {
    REQUIRE(poll_until([&] { return http_get(cluster.servers[0]->admin_address(), "/readyz").status == 200; }, 10000));
    r = a.call({{"cmd", "say"}, {"channel", "#r"}, {"text", "m1"}});
    if (r["ok"] != true) REQUIRE(r["error"]["code"] == "unavailable");
  }
  REQUIRE(r["ok"] == true);
  CHECK(b.wait_event("message", 10000)["text"] == "m1");
}

TEST_CASE("cluster: a join racing a busy channel gets every message above its head, from the next one on") {
  Cluster cluster(2, {"--rate", "0"});
  Client publisher(cluster.at(0)), stayer(cluster.at(1));
  publisher.enter("pub", "#busy");
  stayer.enter("stayer", "#busy");  // keeps server 1 subscribed: its feed runs ahead of a join's reply
  publisher.wait_event("join");
  constexpr int says = 20000;
  std::string burst;
  for (int i = 0; i < says; ++i)
    burst += json({{"cmd", "say"}, {"channel", "#busy"}, {"text", "m" + std::to_string(i)}}).dump() + "\n";
  publisher.send_raw(burst);
  Client joiner(cluster.at(1));
  joiner.hello("joiner");
  int joins = 0;
  for (; joins < 1000; ++joins) {
    // join and a say in one write: the say runs right after the join in Redis.
    joiner.send_raw(json({{"cmd", "join"}, {"channel", "#busy"}, {"id", "j"}}).dump() + "\n" +
                    json({{"cmd", "say"}, {"channel", "#busy"}, {"text", "hello"}, {"id", "s"}}).dump() + "\n");
    const json j = joiner.next_reply(10000);
    REQUIRE(j["id"] == "j");
    const json said = joiner.next_reply(10000);
    REQUIRE(said["id"] == "s");
    for (const json& e : joiner.events) REQUIRE(e.value("from", "") != "joiner");  // its own say: the ok only
    const std::uint64_t head = j["seq"];
    if (head >= says - 10) break;  // the burst is (nearly) over
    json m = joiner.wait_event("message", 10000);
    INFO("join " << joins << " head " << head << ", its own say " << said["seq"]);
    // Nothing above the head was skipped (but its own say, which it got the ok for).
    REQUIRE(m["seq"] == (said["seq"] == head + 1 ? head + 2 : head + 1));
    REQUIRE(joiner.call({{"cmd", "part"}, {"channel", "#busy"}})["ok"] == true);
    joiner.events.clear();
  }
  CHECK(joins > 3);
  for (int i = 0; i < says; ++i) REQUIRE_MESSAGE(publisher.next_reply(15000)["ok"] == true, i);
}

TEST_CASE("cluster: a burst of says is a few Redis calls; each say keeps its own ok, seq and message") {
  Cluster cluster(2, {"--rate", "0"});
  Client pub(cluster.at(0)), near(cluster.at(0)), far(cluster.at(1));
  near.enter("near", "#burst");
  far.enter("far", "#burst");
  pub.enter("pub", "#burst");
  near.wait_event("join");
  near.wait_event("join");
  far.wait_event("join");
  constexpr int says = 200;
  std::string burst;
  for (int i = 0; i < says; ++i)
    burst += json({{"cmd", "say"}, {"channel", "#burst"}, {"text", "m" + std::to_string(i)}, {"id", i}}).dump() + "\n";
  const int calls_before = fcall_count(cluster.redis);
  pub.send_raw(burst);  // one write
  std::uint64_t first = 0;
  for (int i = 0; i < says; ++i) {
    const json r = pub.next_reply(15000);
    REQUIRE(r["ok"] == true);
    REQUIRE(r["id"] == i);
    if (i == 0) first = r["seq"].get<std::uint64_t>();
    REQUIRE(r["seq"] == first + static_cast<std::uint64_t>(i));
  }
  // One call per say before says were batched; the lease and expiry calls
  // of both servers run meanwhile too.
  const int calls = fcall_count(cluster.redis) - calls_before;
  INFO(calls << " function calls for " << says << " says");
  CHECK(calls < 50);
  for (Client* member : {&near, &far}) {
    for (int i = 0; i < says; ++i) {
      const json e = member->wait_event("message", 15000);
      REQUIRE(e["seq"] == first + static_cast<std::uint64_t>(i));
      REQUIRE(e["text"] == "m" + std::to_string(i));
    }
    expect_no_more_messages(*member);
  }
  expect_no_more_messages(pub);  // its own says: the oks only
}

TEST_CASE("cluster: a session's batched says keep their order with its other requests and across channels") {
  Cluster cluster(2, {"--rate", "0"});
  Client ann(cluster.at(0)), watcher(cluster.at(1));
  ann.enter("ann", "#a");
  REQUIRE(ann.call({{"cmd", "join"}, {"channel", "#b"}})["ok"] == true);
  watcher.enter("watcher", "#a");
  REQUIRE(watcher.call({{"cmd", "join"}, {"channel", "#b"}})["ok"] == true);
  // One write: says to two channels, a part between them, and a say after
  // the part that must find ann gone from #a.
  auto say = [](const std::string& channel, const std::string& text) {
    return json({{"cmd", "say"}, {"channel", channel}, {"text", text}, {"id", text}}).dump() + "\n";
  };
  ann.send_raw(say("#a", "a1") + say("#a", "a2") + say("#b", "b1") + say("#a", "a3") +
               json({{"cmd", "part"}, {"channel", "#a"}, {"id", "part"}}).dump() + "\n" + say("#a", "late") +
               say("#b", "b2"));
  for (const char* id : {"a1", "a2", "b1", "a3", "part"}) {
    const json r = ann.next_reply(10000);
    REQUIRE(r["id"] == id);
    REQUIRE(r["ok"] == true);
  }
  const json late = ann.next_reply(10000);
  CHECK(late["id"] == "late");
  CHECK(late["error"]["code"] == "not_in_channel");
  const json b2 = ann.next_reply(10000);
  CHECK(b2["id"] == "b2");
  CHECK(b2["ok"] == true);
  // The watcher, on another server, sees them in the order ann sent them.
  std::vector<std::string> seen;
  while (seen.size() < 6) {
    const json e = watcher.next(10000);
    if (e.value("event", "") == "message") seen.push_back(e["text"]);
    if (e.value("event", "") == "part") seen.push_back("part");
  }
  CHECK(seen == std::vector<std::string>{"a1", "a2", "b1", "a3", "part", "b2"});
}

TEST_CASE("cluster: parley_says answers each say of one call alone: ok, not_in_channel, gone, in order") {
  Cluster cluster(1);
  Client ann(cluster.at(0)), bob(cluster.at(0));
  ann.enter("ann", "#Mix");
  bob.enter("bob", "#mix");
  const std::string entry = cluster.redis.command({"HGET", "t:{c:#mix}:m", "ann"});  // "OWNER ann"
  const std::string owner = entry.substr(0, entry.find(' '));
  REQUIRE(!owner.empty());
  std::vector<std::string> call = {"FCALL", "parley_says", "0", "t", "#mix", "100"};
  auto add = [&](const std::string& user, const std::string& as, const std::string& text) {
    for (const std::string& f : {user, as, std::string(R"({"event":"message","channel":)"),
                                 R"(,"from":"ann","text":")" + text + R"(","seq":)", std::string(",\"ts\":1}\n"),
                                 std::string("1"), std::string("ann"), text, std::string("900")})
      call.push_back(f);
  };
  add("ann", owner, "one");
  add("nobody", "x/1", "not a member");
  add("ann", "x/1", "not its owner");
  add("ann", owner, "two");
  CHECK(cluster.redis.command(call) == "ok\n1\n#Mix\nnot_in_channel\n#Mix\ngone\nok\n2\n#Mix");
  for (const char* text : {"one", "two"}) CHECK(bob.wait_event("message")["text"] == text);
  std::vector<std::string> none = {"FCALL", "parley_says", "0", "t", "#none", "100"};
  call.swap(none);
  add("ann", owner, "three");
  CHECK(cluster.redis.command(call) == "no_such_channel");
  CHECK(cluster.redis.command({"XLEN", "t:{c:#mix}:log"}) == "2");
}
