// A person in a real headless Chromium (Debian's chromium, driven by
// puppeteer-core from tests/browser) loads the web client from parleyd's
// `GET /` and chats through its `/ws` with people on plain TCP:
// tests/browser/chat.test.mjs is the person, this file starts the servers
// and drains one when the script asks. Both runs leave screenshots in the
// build directory (tests/browser-*/chat-*.png) to look at. See
// docs/web-client.md.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <unistd.h>

#include "balancer.hpp"
#include "harness.hpp"
#include "redis_server.hpp"

using namespace parley::test;

namespace {

constexpr const char* chromium = "/usr/bin/chromium";
constexpr int script_timeout_ms = 170000;  // the script bounds itself at 150 s

// The script and its driver are installed: tools/install-deps puts Debian's
// chromium in place and runs `npm ci` in tests/browser.
std::string script() {
  REQUIRE_MESSAGE(access(chromium, X_OK) == 0, "Debian's chromium is not installed: run tools/install-deps");
  REQUIRE_MESSAGE(access(source_file("tests/browser/node_modules/puppeteer-core/package.json").c_str(), R_OK) == 0,
                  "puppeteer-core is not installed in tests/browser: run tools/install-deps");
  return source_file("tests/browser/chat.test.mjs");
}

// Where the run's screenshots go: BROWSER_ARTIFACTS (meson's build
// directory of the tests) / NAME.
std::string artifacts(const std::string& name) { return program("BROWSER_ARTIFACTS") + "/" + name; }

// The server speaks WebSocket (hello's server.features says so): the page
// needs /ws, which the WebSocket transport brings.
void require_websocket(const std::string& address) {
  Client probe(address);
  const json hello = probe.hello("probe");
  INFO(hello.dump());
  const json features = hello["server"]["features"];
  REQUIRE_MESSAGE(std::find(features.begin(), features.end(), "websocket") != features.end(),
                  "parleyd does not offer \"websocket\" in hello's server.features: the browser test needs "
                  "the WebSocket transport (/ws and GET /)");
  probe.call({{"cmd", "quit"}});
}

// Runs the script to its end; CHECKs that it passed.
void finish(ChildProcess& person) {
  const int status = person.wait(script_timeout_ms);
  INFO(person.output());
  CHECK(status == 0);
  CHECK(contains(person.output(), "browser test: "));
  CHECK(contains(person.output(), " checks passed\n"));
}

}  // namespace

TEST_CASE("Chromium: a person chats with TCP people through the page parleyd serves, and rides out a dropped connection") {
  ServerProcess server({"--resume-grace", "30"});
  require_websocket(server.address());
  ChildProcess person({"node", script(), "--page", "http://" + server.address() + "/", "--tcp", server.address(),
                       "--out", artifacts("browser-single"), "--cut"},
                      "");
  finish(person);
  MESSAGE("screenshots in " << artifacts("browser-single"));
}

TEST_CASE("Chromium: behind HAProxy, the page's instance of a cluster drains; the page resumes on the other, missing nothing") {
  RedisServer redis;
  // Each instance: a PROXY listener for HAProxy, a plain one for the TCP
  // people (who stay on the instance that is not drained), its admin port
  // for HAProxy's /readyz check; a quick drain.
  auto flags = [&](const std::string& node) {
    return std::vector<std::string>{"--listen", "127.0.0.1:0,proxy", "--trusted-proxy", "127.0.0.0/8",
                                    "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                                    "--cluster", redis.tcp_url(), "--node-id", node,
                                    "--resume-grace", "15", "--drain-grace", "0", "--drain-window", "0",
                                    "--shutdown-retry-ms", "1500"};
  };
  ServerProcess a(flags("a")), b(flags("b"));
  for (ServerProcess* s : {&a, &b})
    REQUIRE(poll_until([&] { return http_get(s->admin_address(), "/readyz").status == 200; }, 10000));
  require_websocket(a.address(1));
  Balancer haproxy(deploy_haproxy_cfg("# /etc/haproxy/haproxy.cfg, for a cluster", a, &b));
  INFO("haproxy.cfg:\n" << haproxy.config());
  REQUIRE(poll_until([&] {
    for (const char* s : {"a", "b"})
      if (haproxy.server_stats("parley", s)["status"] != "UP") return false;
    return true;
  }, 5000));

  ChildProcess person({"node", script(), "--page", "http://" + haproxy.address() + "/", "--tcp",
                       "a=" + a.address(1), "--tcp", "b=" + b.address(1), "--out", artifacts("browser-cluster"),
                       "--drain"},
                      "");
  // The script says which instance the page is on once it has seen enough;
  // that one drains, and exits 0 once its connections are gone.
  REQUIRE_MESSAGE(person.wait_output("DRAIN node=", 1, 90000), person.output());
  const std::size_t at = person.output().find("DRAIN node=");
  // The line is whole once the output has one more LF than before it.
  REQUIRE(person.wait_output("\n", count_of(person.output().substr(0, at), "\n") + 1, 5000));
  const std::string out = person.output();
  const std::string node = out.substr(at + 11, out.find('\n', at) - at - 11);
  REQUIRE((node == "a" || node == "b"));
  ServerProcess& drained = node == "a" ? a : b;
  CHECK(drained.stop(SIGTERM, 30000) == 0);
  finish(person);
  MESSAGE("screenshots in " << artifacts("browser-cluster"));
}
