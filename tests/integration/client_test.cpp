// The `parley` terminal client, driven by a script on its stdin, against the
// real parleyd and against a stand-in that sends what parleyd never would.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

using namespace parley::test;

namespace {

// The parley client registering as `nick` at `address`, `script` on its stdin.
ChildProcess parley_as(const std::string& nick, const std::string& address, const std::string& script) {
  return ChildProcess({program("PARLEY"), "--nick", nick, address}, script);
}

// Each of `parts` appears in `text`.
void check_contains(const std::string& text, std::initializer_list<const char*> parts) {
  for (const char* part : parts) CHECK_MESSAGE(contains(text, part), part);
}

// parleyd with bob in #t, to see what the client does there.
struct BobInT {
  ServerProcess server;
  Client bob{server.address()};
  BobInT() { bob.enter("bob", "#t"); }
};

// A listener on a Unix socket in place of parleyd: the test speaks for the
// server, line by line.
class FakeServer {
 public:
  explicit FakeServer(std::string_view name) : path_(temp_socket_path(name)) {
    std::string error;
    fd_ = parley::bind_to(*parley::parse_address(address(), error), 0, error);
    REQUIRE_MESSAGE(fd_ >= 0, error);
    REQUIRE(listen(fd_, 1) == 0);
  }
  ~FakeServer() {
    close(fd_);
    unlink(path_.c_str());
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::string address() const { return "unix:" + path_; }

  // The client's connection, once it has sent its hello.
  Client accept_client() {
    pollfd p{fd_, POLLIN, 0};
    REQUIRE_MESSAGE(poll(&p, 1, default_timeout_ms) == 1, "the client did not connect");
    const int peer = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(peer >= 0);
    Client client(peer);
    CHECK(client.next()["cmd"] == "hello");
    return client;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE_FIXTURE(BobInT, "parley: a piped script runs every command and exits after the last reply") {
  ChildProcess parley = parley_as("alice", server.address(),
                                  "/join #t\n"
                                  "hello there\n"
                                  "/topic plans for today\n"
                                  "/who\n"
                                  "/list\n"
                                  "/msg bob psst\n"
                                  "/history 5\n"
                                  "/raw {\"cmd\":\"ping\"}\n"
                                  "/nick alicia\n"
                                  "/part\n"
                                  "/frobnicate\n"
                                  "/help\n");
  CHECK(parley.wait() == 0);
  const std::string& out = parley.output();
  CHECK(contains(out, "] * connected as alice to parley "));
  CHECK(contains(out, "] * joined #t (alice, bob)\n"));
  CHECK(contains(out, "] <alice> hello there\n"));
  CHECK(contains(out, "] * topic of #t: plans for today\n"));
  CHECK(contains(out, "] * #t: alice, bob\n"));
  CHECK(contains(out, "] * #t (2) plans for today\n"));
  CHECK(contains(out, "] -> *bob* psst\n"));
  CHECK(contains(out, "{\"id\":9,\"ok\":true}\n"));
  CHECK(contains(out, "] * you are now alicia\n"));
  CHECK(contains(out, "] * left #t\n"));
  CHECK(contains(out, "unknown command /frobnicate"));
  CHECK(contains(out, "/history [N]"));
  CHECK(bob.wait_event("message")["text"] == "hello there");
  CHECK(bob.wait_event("topic")["topic"] == "plans for today");
  CHECK(bob.wait_event("message")["to"] == "bob");
  CHECK(bob.wait_event("nick")["new"] == "alicia");
  CHECK(bob.wait_event("part")["nick"] == "alicia");
}

TEST_CASE_FIXTURE(BobInT, "parley: events print readably with the time") {
  // alice joins, then waits (via a history round trip) while bob talks.
  ChildProcess parley = parley_as("alice", server.address(), "/join #t\n/quit see you\n");
  CHECK(parley.wait() == 0);
  CHECK(contains(parley.output(), "] * joined #t (alice, bob)\n"));
  CHECK(bob.wait_event("join")["nick"] == "alice");
  CHECK(bob.wait_event("quit") == json::parse(R"({"event":"quit","nick":"alice","reason":"see you"})"));
}

TEST_CASE("parley --json prints every line as the server sent it") {
  ServerProcess server;
  ChildProcess parley({program("PARLEY"), "--json", "--nick", "j", server.address()}, "/list\n");
  CHECK(parley.wait() == 0);
  CHECK(contains(parley.output(), "{\"ok\":true,\"id\":1,\"nick\":\"j\""));
  CHECK(contains(parley.output(), "{\"ok\":true,\"id\":2,\"channels\":[]}\n"));
}

TEST_CASE("parley: a taken nick fails with status 1; a bad address with 2") {
  ServerProcess server;
  Client bob(server.address());
  bob.hello("bob");
  ChildProcess taken = parley_as("BOB", server.address(), "");
  CHECK(taken.wait() == 1);
  CHECK(contains(taken.output(), "! nick_in_use"));
  ChildProcess bad({program("PARLEY"), "no-port"}, "");
  CHECK(bad.wait() == 2);
}

TEST_CASE("parley: /raw without a cmd, and /raw list, show the replies raw and exit 0") {
  ServerProcess server;
  ChildProcess parley = parley_as("raw", server.address(),
                                  "/raw {\"x\":1}\n"
                                  "/raw {\"cmd\":\"list\"}\n");
  CHECK(parley.wait() == 0);
  const std::string& out = parley.output();
  INFO(out);
  CHECK(contains(out, "] * connected as raw to parley "));
  CHECK(contains(out, "{\"error\":{\"code\":\"bad_request\",\"message\":\"missing string field 'cmd'\"},"
                      "\"id\":2,\"ok\":false}\n"));
  CHECK(contains(out, "{\"channels\":[],\"id\":3,\"ok\":true}\n"));
}

TEST_CASE_FIXTURE(BobInT, "parley: typed text that is not UTF-8 goes out with U+FFFD, not a crash") {
  ChildProcess parley = parley_as("latin", server.address(), "/join #t\ncaf\xe9\n");
  CHECK(parley.wait() == 0);
  CHECK(bob.wait_event("message")["text"] == "caf\xef\xbf\xbd");
}

TEST_CASE("parley: lines from the server that are not JSON, or whose fields are missing or mistyped") {
  FakeServer fake("client-odd");
  ChildProcess parley = parley_as("me", fake.address(), "/list\n/nick you\n");
  Client server = fake.accept_client();
  server.send_raw("not json at all\n"
                  "[1,2,3]\n"
                  "{\"event\":7}\n"
                  "{\"event\":\"message\",\"channel\":[\"#x\"],\"from\":1,\"text\":{\"a\":1},\"ts\":\"noon\"}\n"
                  "{\"event\":\"shutdown\",\"reason\":null,\"retry_ms\":\"soon\"}\n"
                  "{\"ok\":true,\"id\":1,\"nick\":[\"me\"],\"server\":\"x\",\"limits\":7}\n");
  const json list = server.next();
  CHECK(list["cmd"] == "list");
  server.send_raw("{\"ok\":true,\"id\":2,\"channels\":[5,{\"channel\":7,\"members\":\"x\",\"topic\":false}]}\n");
  CHECK(server.next()["cmd"] == "nick");
  server.send_raw("{\"ok\":\"yes\",\"id\":3,\"nick\":{}}\n");
  CHECK(parley.wait() == 0);
  const std::string& out = parley.output();
  INFO(out);
  check_contains(out, {"{\"event\":7}\n", "] * server is shutting down (); reconnect in ? ms\n",
                       "] * connected as  to  \n", "] * 5\n", "] *  (?) \n",
                       "] ! {\"id\":3,\"nick\":{},\"ok\":\"yes\"}\n"});
}

TEST_CASE("parley: a server line longer than 16 MiB ends the client with status 1, not unbounded memory") {
  FakeServer fake("client-long");
  ChildProcess parley = parley_as("me", fake.address(), "");
  Client server = fake.accept_client();
  // 17 MiB without a newline; the client hangs up part way, which ends the sending.
  const std::string chunk(1 << 16, 'x');
  for (int i = 0; i < 17 * 16; ++i)
    if (::send(server.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
  CHECK(parley.wait() == 1);
  CHECK(contains(parley.output(), "! the server sent a line longer than 16777216 bytes\n"));
}

TEST_CASE("parley: a typed line longer than 1 MiB ends the client with status 1") {
  ServerProcess server;
  ChildProcess parley = parley_as("typist", server.address(), std::string((1 << 20) + 1, 'x'));
  CHECK(parley.wait() == 1);
  CHECK(contains(parley.output(), "! a typed line is longer than 1048576 bytes\n"));
}
