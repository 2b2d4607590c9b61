// RedisConnection against a real redis-server: connecting (unix, TCP by
// number and by name), pipelining, the in-flight bound, the command and
// connect timeouts, losing Redis and getting it back, pub/sub on the same
// connection as the commands (RESP3), stop().
//
// Each test drives its own uv loop until the event it awaits, bounded by a
// watchdog: a test that waits in vain fails, it never hangs, and no test
// sleeps to let something happen.
#include <uv.h>

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/cluster/redis_connection.hpp"
#include "redis_server.hpp"

using namespace parley::cluster;
using parley::test::RedisServer;
using parley::test::ReservedPort;

namespace {

constexpr int wait_ms = 10000;  // for anything the test awaits: far more than it needs

// A loop of the test's own. run_until() runs it until `done` holds, at most
// `timeout_ms` (a watchdog timer wakes it); the destructor closes whatever
// is left and CHECKs that the loop closes with nothing open.
class Loop {
 public:
  Loop() {
    std::signal(SIGPIPE, SIG_IGN);  // as parleyd does: libuv writes with write(2)
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_timer_init(&loop_, &watchdog_) == 0);
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* get() { return &loop_; }

  bool run_until(const std::function<bool()>& done, int timeout_ms = wait_ms) {
    bool expired = false;
    watchdog_.data = &expired;
    uv_timer_start(&watchdog_, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
                   static_cast<std::uint64_t>(timeout_ms), 0);
    while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&watchdog_);
    return done();
  }

 private:
  uv_loop_t loop_{};
  uv_timer_t watchdog_{};
};

// Quick timeouts and backoff, so that failures come fast.
RedisOptions options_for(const std::string& url) {
  std::string error;
  const auto address = parse_redis_url(url, error);
  REQUIRE_MESSAGE(address, error);
  RedisOptions options;
  options.address = *address;
  options.connect_timeout_ms = 1000;
  options.command_timeout_ms = 300;
  options.backoff_min_ms = 20;
  options.backoff_max_ms = 200;
  options.client_name = "parley-test";
  return options;
}

// A connection and a record of everything it told its owner. The
// destructor stops it and waits for on_closed (a failed REQUIRE on the way
// out still leaves the loop clean).
struct Watched {
  Loop& loop;
  std::unique_ptr<RedisConnection> conn;
  int ups = 0;
  std::vector<std::string> downs;
  std::vector<std::string> failed_attempts;
  std::vector<std::int64_t> retry_delays;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<std::int64_t> latencies;
  int closed = 0;

  Watched(Loop& l, RedisOptions options) : loop(l), conn(std::make_unique<RedisConnection>(l.get(), std::move(options))) {
    conn->on_up([this] { ++ups; });
    conn->on_down([this](std::string_view why) { downs.emplace_back(why); });
    conn->on_connect_failed([this](std::string_view why, std::int64_t retry_in_ms) {
      failed_attempts.emplace_back(why);
      retry_delays.push_back(retry_in_ms);
    });
    conn->on_message([this](std::string_view channel, std::string_view payload) {
      messages.emplace_back(channel, payload);
    });
    conn->on_latency([this](std::int64_t micros) { latencies.push_back(micros); });
    conn->start();
  }
  ~Watched() {
    if (!conn) return;
    conn->stop([this] { ++closed; });
    loop.run_until([this] { return closed > 0; });
  }

  void await_up(int count = 1) {
    REQUIRE_MESSAGE(loop.run_until([&] { return ups >= count && conn->up(); }),
                    "not up " << count << " times; failures: " << last_failure());
  }
  std::string last_failure() const { return failed_attempts.empty() ? "none" : failed_attempts.back(); }
};

// One command run to its reply.
RedisReply call(Watched& w, std::vector<std::string_view> argv) {
  std::optional<RedisReply> reply;
  REQUIRE(w.conn->command(argv, [&](const RedisReply& r) { reply = r; }));
  REQUIRE(w.loop.run_until([&] { return reply.has_value(); }));
  return *reply;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

TEST_CASE("redis connection: over the unix socket, SET then GET; named, latency measured") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  CHECK_FALSE(w.conn->command({"PING"}, [](const RedisReply&) {}));  // not up yet: refused, never called
  CHECK(w.conn->stats().refused == 1);
  w.await_up();
  CHECK(w.conn->stats().connects == 1);
  CHECK(call(w, {"SET", "greeting", "hello"}).str == "OK");
  const RedisReply got = call(w, {"GET", "greeting"});
  CHECK(got.type == RedisReply::Type::string);
  CHECK(got.str == "hello");
  CHECK(call(w, {"GET", "missing"}).is_nil());
  const RedisReply wrong = call(w, {"NOSUCHCOMMAND"});
  CHECK(wrong.type == RedisReply::Type::error);  // an error reply, not a failure: the connection stays
  CHECK(w.conn->up());
  CHECK(w.latencies.size() == 4);
  for (std::int64_t micros : w.latencies) CHECK((micros >= 0 && micros < 5'000'000));
  CHECK(contains(redis.command({"CLIENT", "LIST"}), "name=parley-test"));
  CHECK(w.downs.empty());
}

TEST_CASE("redis connection: over TCP, by number and by a name resolved on the loop") {
  RedisServer redis;
  Loop loop;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    Watched w(loop, options_for(redis.tcp_url(host)));
    w.await_up();
    CHECK(call(w, {"SET", "k", host}).ok());
    CHECK(call(w, {"GET", "k"}).str == host);
  }
}

TEST_CASE("redis connection: pipelined commands are answered in order") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  constexpr int count = 2000;
  std::vector<std::int64_t> seen;
  for (int i = 0; i < count; ++i)
    REQUIRE(w.conn->command({"INCR", "counter"}, [&](const RedisReply& r) { seen.push_back(r.integer); }));
  CHECK(w.conn->in_flight() == count);
  REQUIRE(loop.run_until([&] { return seen.size() == count; }));
  for (int i = 0; i < count; ++i) REQUIRE(seen[static_cast<std::size_t>(i)] == i + 1);
  CHECK(w.conn->in_flight() == 0);
  CHECK(w.latencies.size() == count);
}

TEST_CASE("redis connection: the in-flight bound refuses, and what was taken is answered") {
  RedisServer redis;
  Loop loop;
  RedisOptions options = options_for(redis.unix_url());
  options.max_in_flight = 3;
  Watched w(loop, options);
  w.await_up();
  int answered = 0;
  for (int i = 0; i < 3; ++i) REQUIRE(w.conn->command({"PING"}, [&](const RedisReply& r) { answered += r.ok(); }));
  bool called = false;
  CHECK_FALSE(w.conn->command({"PING"}, [&](const RedisReply&) { called = true; }));
  CHECK_FALSE(w.conn->subscribe("news", [&](const RedisReply&) { called = true; }));
  CHECK(w.conn->stats().refused == 2);
  REQUIRE(loop.run_until([&] { return answered == 3; }));
  CHECK_FALSE(called);
  CHECK(w.conn->command({"PING"}, [&](const RedisReply& r) { answered += r.ok(); }));  // room again
  REQUIRE(loop.run_until([&] { return answered == 4; }));
}

TEST_CASE("redis connection: commands that Parley's FIFO cannot follow are refused") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  for (std::string_view name : {"SUBSCRIBE", "psubscribe", "Unsubscribe", "MONITOR", "RESET", "HELLO"})
    CHECK_FALSE(w.conn->command({name, "x"}, [](const RedisReply&) {}));
  CHECK_FALSE(w.conn->command({}, [](const RedisReply&) {}));
  CHECK(w.conn->in_flight() == 0);
  CHECK(call(w, {"PING"}).str == "PONG");
}

TEST_CASE("redis connection: a paused Redis times commands out, goes down, and comes back up when it resumes") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.tcp_url()));
  w.await_up();
  redis.pause();
  std::vector<RedisReply> replies;
  for (int i = 0; i < 3; ++i)
    REQUIRE(w.conn->command({"PING"}, [&](const RedisReply& r) { replies.push_back(r); }));
  REQUIRE(loop.run_until([&] { return replies.size() == 3 && !w.downs.empty(); }));
  for (const RedisReply& r : replies) {
    CHECK(r.type == RedisReply::Type::failure);
    CHECK(r.str == "no reply within 300 ms");
  }
  CHECK(w.downs == std::vector<std::string>{"no reply within 300 ms"});
  CHECK(w.conn->stats().timeouts == 1);
  CHECK(w.conn->stats().disconnects == 1);
  CHECK_FALSE(w.conn->up());
  CHECK_FALSE(w.conn->command({"PING"}, [](const RedisReply&) {}));
  redis.resume();
  w.await_up(2);
  CHECK(call(w, {"PING"}).str == "PONG");
  CHECK(w.downs.size() == 1);
}

TEST_CASE("redis connection: a Redis that accepts but never answers fails the connect within its timeout") {
  RedisServer redis;
  redis.pause();  // the kernel still accepts connections; the handshake goes unanswered
  Loop loop;
  RedisOptions options = options_for(redis.tcp_url());
  options.connect_timeout_ms = 200;
  Watched w(loop, options);
  REQUIRE(loop.run_until([&] { return w.failed_attempts.size() >= 2; }));
  CHECK(w.failed_attempts[0] == "cannot connect to " + redis.tcp_url() + ": not up within 200 ms");
  CHECK(w.ups == 0);
  CHECK(w.downs.empty());  // it never was up
  redis.resume();
  w.await_up();
}

TEST_CASE("redis connection: Redis killed and restarted: down, retries with growing backoff, up again") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  CHECK(call(w, {"SET", "k", "before"}).ok());
  bool failed = false;
  REQUIRE(w.conn->command({"PING"}, [&](const RedisReply& r) {
    failed = r.type == RedisReply::Type::failure;
  }));
  redis.kill();
  REQUIRE(loop.run_until([&] { return failed && w.downs.size() == 1; }));
  CHECK(contains(w.downs[0], "connection lost"));
  REQUIRE(loop.run_until([&] { return w.failed_attempts.size() >= 5; }));
  for (const std::string& why : w.failed_attempts) CHECK(contains(why, "cannot connect to " + redis.unix_path()));
  // Delay k (from the loss on) is drawn from [base/2, base], base = 20 ms doubled k+1 times, at most 200.
  for (std::size_t k = 0; k < w.retry_delays.size(); ++k) {
    const std::int64_t base = std::min<std::int64_t>(200, 20 << std::min<std::size_t>(k + 1, 10));
    CAPTURE(k);
    CHECK(w.retry_delays[k] >= base / 2);
    CHECK(w.retry_delays[k] <= base);
  }
  redis.restart();
  w.await_up(2);
  CHECK(call(w, {"GET", "k"}).is_nil());  // a new, empty Redis
  CHECK(w.conn->stats().connects == 2);
  CHECK(w.conn->stats().connect_failures == w.failed_attempts.size());
}

TEST_CASE("redis connection: nothing listening: failures and retries, bounded, never up, never down") {
  ReservedPort nobody;  // bound, never listening: connects are refused
  Loop loop;
  Watched w(loop, options_for("redis://127.0.0.1:" + std::to_string(nobody.port())));
  REQUIRE(loop.run_until([&] { return w.failed_attempts.size() >= 4; }));
  for (const std::string& why : w.failed_attempts) {
    CAPTURE(why);
    CHECK(contains(why, "cannot connect to 127.0.0.1:" + std::to_string(nobody.port())));
    CHECK(contains(why, "refused"));
  }
  for (std::int64_t delay : w.retry_delays) CHECK((delay >= 10 && delay <= 200));
  CHECK(w.ups == 0);
  CHECK(w.downs.empty());
  CHECK_FALSE(w.conn->command({"PING"}, [](const RedisReply&) {}));
}

TEST_CASE("redis connection: a name that does not resolve fails the attempt and is retried") {
  Loop loop;
  Watched w(loop, options_for("redis://no-such-host.invalid:6379"));
  // Without a DNS server to say no, the system resolver takes its own time
  // (the connect timeout cannot cut a getaddrinfo short); hence 30 s.
  REQUIRE(loop.run_until([&] { return !w.failed_attempts.empty(); }, 30000));
  const std::string& why = w.failed_attempts[0];
  CAPTURE(why);
  CHECK((contains(why, "cannot resolve no-such-host.invalid") || contains(why, "not up within 1000 ms")));
  CHECK(w.ups == 0);
}

TEST_CASE("redis connection: subscribe, then PUBLISH from another connection: the message arrives") {
  RedisServer redis;
  Loop loop;
  Watched subscriber(loop, options_for(redis.unix_url()));
  Watched publisher(loop, options_for(redis.tcp_url()));
  subscriber.await_up();
  publisher.await_up();
  std::optional<RedisReply> confirmed;
  REQUIRE(subscriber.conn->subscribe("news", [&](const RedisReply& r) { confirmed = r; }));
  REQUIRE(loop.run_until([&] { return confirmed.has_value(); }));
  CHECK(confirmed->ok());
  CHECK(confirmed->at(0).str == "subscribe");
  CHECK(confirmed->at(1).str == "news");
  CHECK(call(publisher, {"PUBLISH", "news", "hello"}).integer == 1);
  CHECK(call(publisher, {"PUBLISH", "other", "unheard"}).integer == 0);
  const std::string binary("a\0b\r\nc", 6);
  CHECK(call(publisher, {"PUBLISH", "news", binary}).integer == 1);
  REQUIRE(loop.run_until([&] { return subscriber.messages.size() == 2; }));
  CHECK(subscriber.messages[0] == std::pair<std::string, std::string>("news", "hello"));
  CHECK(subscriber.messages[1] == std::pair<std::string, std::string>("news", binary));
}

TEST_CASE("redis connection: unsubscribe, then subscribe the same channel again") {
  RedisServer redis;
  Loop loop;
  Watched subscriber(loop, options_for(redis.unix_url()));
  Watched publisher(loop, options_for(redis.unix_url()));
  subscriber.await_up();
  publisher.await_up();
  int confirmations = 0;
  const auto confirm = [&](const RedisReply& r) { confirmations += r.ok(); };
  REQUIRE(subscriber.conn->subscribe("a", confirm));
  REQUIRE(subscriber.conn->subscribe("b", confirm));
  REQUIRE(loop.run_until([&] { return confirmations == 2; }));
  CHECK_FALSE(subscriber.conn->unsubscribe("never-subscribed"));
  REQUIRE(subscriber.conn->unsubscribe("a"));
  CHECK_FALSE(subscriber.conn->unsubscribe("a"));  // once is enough
  REQUIRE(loop.run_until([&] { return subscriber.conn->in_flight() == 0; }));
  CHECK(call(publisher, {"PUBLISH", "a", "unheard"}).integer == 0);
  CHECK(call(publisher, {"PUBLISH", "b", "heard"}).integer == 1);
  REQUIRE(subscriber.conn->subscribe("a", confirm));
  REQUIRE(loop.run_until([&] { return confirmations == 3; }));
  CHECK(call(publisher, {"PUBLISH", "a", "again"}).integer == 1);
  REQUIRE(loop.run_until([&] { return subscriber.messages.size() == 2; }));
  CHECK(subscriber.messages[0] == std::pair<std::string, std::string>("b", "heard"));
  CHECK(subscriber.messages[1] == std::pair<std::string, std::string>("a", "again"));

  // The same without waiting in between: subscribe, unsubscribe, subscribe.
  REQUIRE(subscriber.conn->subscribe("c", confirm));
  REQUIRE(subscriber.conn->unsubscribe("c"));
  REQUIRE(subscriber.conn->subscribe("c", confirm));
  REQUIRE(loop.run_until([&] { return confirmations == 5 && subscriber.conn->in_flight() == 0; }));
  CHECK(call(publisher, {"PUBLISH", "c", "still"}).integer == 1);
  REQUIRE(loop.run_until([&] { return subscriber.messages.size() == 3; }));
  CHECK(subscriber.messages[2] == std::pair<std::string, std::string>("c", "still"));
  // And away from everything: no more messages, the connection still up.
  REQUIRE(subscriber.conn->unsubscribe("a"));
  REQUIRE(subscriber.conn->unsubscribe("b"));
  REQUIRE(subscriber.conn->unsubscribe("c"));
  REQUIRE(loop.run_until([&] { return subscriber.conn->in_flight() == 0; }));
  CHECK(call(publisher, {"PUBLISH", "c", "unheard"}).integer == 0);
  CHECK(subscriber.conn->up());
  CHECK(subscriber.downs.empty());
}

TEST_CASE("redis connection: CLIENT KILL TYPE pubsub: down, up again, and the owner subscribes again in on_up") {
  RedisServer redis;
  Loop loop;
  Watched subscriber(loop, options_for(redis.unix_url()));
  int subscribed = 0;
  subscriber.conn->on_up([&] {
    ++subscriber.ups;
    REQUIRE(subscriber.conn->subscribe("news", [&](const RedisReply& r) { subscribed += r.ok(); }));
  });
  Watched publisher(loop, options_for(redis.unix_url()));
  publisher.await_up();
  REQUIRE(loop.run_until([&] { return subscribed == 1; }));
  CHECK(redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}) == "1");
  REQUIRE(loop.run_until([&] { return subscriber.downs.size() == 1; }));
  CHECK(contains(subscriber.downs[0], "connection lost"));
  CHECK(publisher.downs.empty());
  REQUIRE(loop.run_until([&] { return subscribed == 2; }));
  CHECK(subscriber.ups == 2);
  CHECK(call(publisher, {"PUBLISH", "news", "after"}).integer == 1);
  REQUIRE(loop.run_until([&] { return subscriber.messages.size() == 1; }));
  CHECK(subscriber.messages[0].second == "after");
}

TEST_CASE("redis connection: stop() with commands in flight: each callback once, then on_down, then on_closed once") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  std::vector<std::string> events;
  std::vector<int> calls(5, 0);
  for (std::size_t i = 0; i < calls.size(); ++i)
    REQUIRE(w.conn->command({"PING"}, [&, i](const RedisReply& r) {
      ++calls[i];
      events.push_back(r.type == RedisReply::Type::failure ? std::string("failed: ") + r.str : "answered");
    }));
  w.conn->on_down([&](std::string_view why) { events.push_back("down: " + std::string(why)); });
  int closed = 0;
  w.conn->stop([&] {
    ++closed;
    events.push_back("closed");
  });
  w.conn->stop([&] { ++closed; });  // a second stop does nothing
  CHECK(events.empty());            // nothing runs inside stop()
  CHECK_FALSE(w.conn->up());
  CHECK_FALSE(w.conn->command({"PING"}, [](const RedisReply&) {}));
  REQUIRE(loop.run_until([&] { return closed > 0; }));
  loop.run_until([] { return false; }, 50);  // nothing more comes
  CHECK(closed == 1);
  for (int n : calls) CHECK(n == 1);
  const std::vector<std::string> expected{"failed: stopped", "failed: stopped", "failed: stopped",
                                          "failed: stopped", "failed: stopped", "down: stopped", "closed"};
  CHECK(events == expected);
  w.conn.reset();  // destroyed after on_closed
}

TEST_CASE("redis connection: stop() from inside a reply's callback: the rest fail once, on_closed once") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  std::vector<std::string> events;
  REQUIRE(w.conn->command({"PING"}, [&](const RedisReply& r) {
    events.push_back("answered " + r.str);
    w.conn->stop([&] { events.push_back("closed"); });  // the connection is inside its read path here
    CHECK_FALSE(w.conn->command({"PING"}, [&](const RedisReply&) { events.push_back("never"); }));
  }));
  for (int i = 0; i < 2; ++i)
    REQUIRE(w.conn->command({"PING"}, [&](const RedisReply& r) { events.push_back("then " + r.str); }));
  REQUIRE(loop.run_until([&] { return !events.empty() && events.back() == "closed"; }));
  loop.run_until([] { return false; }, 50);
  const std::vector<std::string> expected{"answered PONG", "then stopped", "then stopped", "closed"};
  CHECK(events == expected);
  CHECK(w.downs == std::vector<std::string>{"stopped"});
  w.conn.reset();
}

TEST_CASE("redis connection: a handshake Redis refuses fails the attempt, with Redis's reason") {
  RedisServer redis;
  Loop loop;
  RedisOptions options = options_for(redis.unix_url());
  options.client_name = "has spaces";  // CLIENT SETNAME refuses it
  Watched w(loop, options);
  REQUIRE(loop.run_until([&] { return w.failed_attempts.size() >= 2; }));
  CHECK(contains(w.failed_attempts[0], "handshake refused: ERR"));
  CHECK(w.ups == 0);
}

TEST_CASE("redis connection: stop() while retrying, while resolving, and before start()") {
  Loop loop;
  ReservedPort nobody;
  {
    Watched w(loop, options_for("redis://127.0.0.1:" + std::to_string(nobody.port())));
    REQUIRE(loop.run_until([&] { return !w.failed_attempts.empty(); }));
  }  // stops and awaits on_closed
  {
    Watched w(loop, options_for("redis://localhost:" + std::to_string(nobody.port())));
  }  // stopped at once: the resolve is cancelled or awaited
  RedisConnection idle(loop.get(), options_for("redis://127.0.0.1:1"));
  int closed = 0;
  idle.stop([&] { ++closed; });
  CHECK(closed == 1);  // never started: nothing to wait for
}

TEST_CASE("redis connection: destroyed while up with a command in flight, or from its own callback") {
  RedisServer redis;
  Loop loop;
  {
    bool called = false;
    auto conn = std::make_unique<RedisConnection>(loop.get(), options_for(redis.unix_url()));
    conn->on_up([&] { REQUIRE(conn->command({"PING"}, [&](const RedisReply&) { called = true; })); });
    conn->start();
    REQUIRE(loop.run_until([&] { return conn->in_flight() == 1; }));
    conn.reset();  // forgets every callback; closes by itself
    loop.run_until([] { return false; }, 100);
    CHECK_FALSE(called);
  }
  {
    auto conn = std::make_unique<RedisConnection>(loop.get(), options_for(redis.unix_url()));
    int answered = 0;
    conn->on_up([&] {
      REQUIRE(conn->command({"PING"}, [&](const RedisReply&) {
        ++answered;
        conn.reset();  // from inside the reply's callback
      }));
      REQUIRE(conn->command({"PING"}, [&](const RedisReply&) { ++answered; }));
    });
    conn->start();
    REQUIRE(loop.run_until([&] { return !conn; }));
    loop.run_until([] { return false; }, 100);
    CHECK(answered == 1);
  }
}  // ~Loop checks that every handle is closed

TEST_CASE("redis connection: a reply over the element limit fails its command and drops the connection, which comes back") {
  RedisServer redis;
  Loop loop;
  RedisOptions options = options_for(redis.unix_url());
  options.reply_limits.max_elements = 30;  // HELLO's own reply has 14
  Watched w(loop, options);
  w.await_up();
  std::vector<std::string_view> push{"RPUSH", "list"};
  const std::vector<std::string> values(40, "v");
  for (const std::string& v : values) push.push_back(v);
  CHECK(call(w, push).integer == 40);
  const RedisReply all = call(w, {"LRANGE", "list", "0", "-1"});
  CHECK(all.type == RedisReply::Type::failure);
  CHECK(all.str == "unreadable reply: reply too large (more than 30 elements)");
  REQUIRE(w.downs.size() == 1);
  CHECK(w.downs[0] == all.str);
  w.await_up(2);
  CHECK(call(w, {"LRANGE", "list", "0", "9"}).elements.size() == 10);
}

TEST_CASE("redis connection: one connection subscribes and runs commands; its own PUBLISH's message comes before the reply") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  int subscribed = 0;
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { subscribed += r.ok(); }));
  CHECK(call(w, {"PING"}).str == "PONG");  // answered after the confirmation: in order
  CHECK(subscribed == 1);
  std::size_t messages_at_reply = 0;
  std::optional<RedisReply> published;
  REQUIRE(w.conn->command({"PUBLISH", "news", "mine"}, [&](const RedisReply& r) {
    published = r;
    messages_at_reply = w.messages.size();
  }));
  REQUIRE(loop.run_until([&] { return published.has_value(); }));
  CHECK(published->integer == 1);
  CHECK(messages_at_reply == 1);  // Redis ran the publish, then wrote its reply
  REQUIRE(w.messages.size() == 1);
  CHECK(w.messages[0] == std::pair<std::string, std::string>("news", "mine"));
  CHECK(redis.command({"CLIENT", "LIST"}).find("resp=3") != std::string::npos);
  CHECK(w.downs.empty());
}

TEST_CASE("redis connection: a refused SUBSCRIBE followed by one Redis takes leaves the channel subscribed") {
  RedisServer redis;
  REQUIRE(redis.command({"ACL", "SETUSER", "default", "resetchannels"}) == "OK");  // no channel allowed
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  // One turn, in this order: refused, the ACL opened, taken.
  std::vector<RedisReply> answers;
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(w.conn->command({"ACL", "SETUSER", "default", "allchannels"},
                          [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(loop.run_until([&] { return answers.size() == 3; }));
  CHECK(answers[0].type == RedisReply::Type::error);
  CHECK(answers[1].str == "OK");
  CHECK(answers[2].type != RedisReply::Type::error);
  CHECK(redis.command({"PUBLISH", "news", "still here"}) == "1");
  REQUIRE(loop.run_until([&] { return w.messages.size() == 1; }));
  CHECK(w.messages[0] == std::pair<std::string, std::string>("news", "still here"));
  CHECK(w.conn->unsubscribe("news"));
}

TEST_CASE("redis connection: a refused SUBSCRIBE of a channel already subscribed leaves it subscribed") {
  RedisServer redis;
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  std::optional<RedisReply> first, again;
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { first = r; }));
  REQUIRE(loop.run_until([&] { return first.has_value(); }));
  REQUIRE(first->type != RedisReply::Type::error);
  // Taking SUBSCRIBE away ends no subscription: only the second is refused.
  REQUIRE(redis.command({"ACL", "SETUSER", "default", "-subscribe"}) == "OK");
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { again = r; }));
  REQUIRE(loop.run_until([&] { return again.has_value(); }));
  CHECK(again->type == RedisReply::Type::error);
  CHECK(redis.command({"PUBLISH", "news", "still subscribed"}) == "1");
  REQUIRE(loop.run_until([&] { return w.messages.size() == 1; }));
  CHECK(w.messages[0].second == "still subscribed");
  CHECK(w.conn->unsubscribe("news"));
}

TEST_CASE("redis connection: an answer to a SUBSCRIBE sent before an UNSUBSCRIBE is not the next one's") {
  RedisServer redis;
  REQUIRE(redis.command({"ACL", "SETUSER", "default", "resetchannels", "&news"}) == "OK");
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  // One turn: subscribed, unsubscribed, subscribed again after the ACL
  // took the channel away: the first confirmation must not count for the
  // refused third.
  std::vector<RedisReply> answers;
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(w.conn->unsubscribe("news"));
  REQUIRE(w.conn->command({"ACL", "SETUSER", "default", "resetchannels"},
                          [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { answers.push_back(r); }));
  REQUIRE(loop.run_until([&] { return answers.size() == 3; }));
  CHECK(answers[0].type != RedisReply::Type::error);
  CHECK(answers[2].type == RedisReply::Type::error);
  CHECK_FALSE(w.conn->unsubscribe("news"));  // nothing is subscribed
  CHECK(w.downs.empty());
}

TEST_CASE("redis connection: a SUBSCRIBE Redis refuses is an error reply; the connection stays up") {
  RedisServer redis;
  REQUIRE(redis.command({"ACL", "SETUSER", "default", "-subscribe"}) == "OK");
  Loop loop;
  Watched w(loop, options_for(redis.unix_url()));
  w.await_up();
  std::optional<RedisReply> refused;
  REQUIRE(w.conn->subscribe("news", [&](const RedisReply& r) { refused = r; }));
  REQUIRE(loop.run_until([&] { return refused.has_value(); }));
  CHECK(refused->type == RedisReply::Type::error);
  CHECK(contains(refused->str, "NOPERM"));
  CHECK_FALSE(w.conn->unsubscribe("news"));  // the refusal subscribed nothing: nothing to undo
  CHECK(call(w, {"PING"}).str == "PONG");
  w.conn->reconnect("asked to");
  REQUIRE(loop.run_until([&] { return w.downs.size() == 1; }));
  CHECK(w.downs[0] == "reconnecting: asked to");
  w.await_up(2);
}
