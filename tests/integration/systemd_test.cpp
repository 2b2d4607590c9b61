// parleyd's side of systemd: readiness notifications to a real
// NOTIFY_SOCKET datagram socket, the descriptor limit raised at start,
// socket activation by systemd's own systemd-socket-activate, and the unit
// files in tools/systemd.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace parley::test;

namespace {

using Clock = std::chrono::steady_clock;

// A datagram socket where systemd would listen for sd_notify messages.
class NotifySocket {
 public:
  NotifySocket() : path_(temp_socket_path("notify")) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  // Datagrams until one contains `wanted`; all of them, or "" on timeout.
  std::string until(const std::string& wanted, int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string seen;
    while (seen.find(wanted) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
      char datagram[4096];
      const ssize_t n = ::recv(fd_, datagram, sizeof datagram, 0);
      if (n > 0) seen.append(datagram, static_cast<std::size_t>(n)).push_back('\n');
    }
    return seen;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("sd_notify: READY=1 once listening, STATUS with the clients, STOPPING=1 on SIGTERM") {
  NotifySocket systemd;
  REQUIRE(::setenv("NOTIFY_SOCKET", systemd.path().c_str(), 1) == 0);
  ServerProcess server;
  ::unsetenv("NOTIFY_SOCKET");
  REQUIRE(!systemd.until("READY=1").empty());
  CHECK(!systemd.until("STATUS=serving, 0 clients").empty());  // sent right after READY=1
  Client c(server.address());
  c.hello("watched");
  CHECK(!systemd.until("STATUS=serving, 1 clients").empty());
  CHECK(server.stop(SIGTERM) == 0);  // waits for the exit: the datagram is already here
  CHECK(!systemd.until("STOPPING=1").empty());
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and the server runs as before") {
  ::unsetenv("NOTIFY_SOCKET");
  ServerProcess server;
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
}

TEST_CASE("the soft descriptor limit is raised to the hard one at start, and logged") {
  ServerProcess server({}, true, 256, 4096);
  Client c(server.address());
  CHECK(c.call({{"cmd", "ping"}})["ok"] == true);
  CHECK(server.log().find("descriptors: soft limit raised from 256 to 4096") != std::string::npos);
}

namespace {

// A Unix socket path for the activator to create, removed again at the end
// (parleyd leaves a socket it was passed where it is).
class SocketPath {
 public:
  explicit SocketPath(std::string_view name) : path_(temp_socket_path(name)) { ::unlink(path_.c_str()); }
  ~SocketPath() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string address() const { return "unix:" + path_; }
  bool exists() const { return ::access(path_.c_str(), F_OK) == 0; }

 private:
  std::string path_;
};

// systemd-socket-activate (package systemd) with `options`: it listens on
// each --listen (descriptors 3, 4, ... in order) and execs parleyd once the
// first connection arrives (with --accept: forks one per connection). It
// passes parleyd only PATH, TERM, USER, HOME and what --setenv names, so the
// sanitizers' settings are named too.
ServerProcess::Wrapper socket_activate(std::vector<std::string> options) {
  std::vector<std::string> argv{"systemd-socket-activate"};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
    if (std::getenv(name)) argv.push_back(std::string("--setenv=") + name);
  argv.insert(argv.end(), options.begin(), options.end());
  return {argv};
}

// The activator says "Listening on ADDRESS as FD." once it listens there.
void wait_activator(ServerProcess& activator, std::size_t sockets) {
  REQUIRE_MESSAGE(activator.wait_log("Listening on ", sockets), "systemd-socket-activate did not listen; log:\n"
                                                                    << activator.log());
}

}  // namespace

TEST_CASE("socket activation: chat on TCP and a Unix socket, admin on another, no default address") {
  ReservedPort port;
  SocketPath chat("activated-chat");
  SocketPath admin("activated-admin");
  NotifySocket systemd;
  ServerProcess server(socket_activate({"--listen=" + port.address(), "--listen=" + chat.path(),
                                        "--listen=" + admin.path(), "--fdname=chat:chat:admin",
                                        "--setenv=NOTIFY_SOCKET=" + systemd.path()}),
                       {"--admin", "127.0.0.1:0"});
  wait_activator(server, 3);
  Client over_tcp(port.address());  // the first connection: only now is parleyd started
  server.wait_listening(2);
  CHECK(server.address(0) == port.address());
  CHECK(server.address(1) == chat.address());
  CHECK(!systemd.until("READY=1").empty());

  json welcome = over_tcp.hello("overtcp");
  CHECK(welcome["server"]["name"] == "parley");
  over_tcp.join("#activated");
  Client over_unix(chat.address());
  over_unix.enter("overunix", "#activated");
  CHECK(over_tcp.call({{"cmd", "say"}, {"channel", "#activated"}, {"text", "socket activated"}})["ok"] == true);
  json message = over_unix.wait_event("message");
  CHECK(message["from"] == "overtcp");
  CHECK(message["text"] == "socket activated");

  const HttpResponse health = http_get(admin.address(), "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");

  CHECK(server.stop(SIGTERM) == 0);
  const std::string out = server.stdout_text();
  CHECK_MESSAGE(lines_starting(out, "listening on ") == 2, out);  // not the default address besides
  CHECK(contains(out, "admin listening on " + admin.address() + "\n"));
  const std::string log = server.log();
  CHECK(contains(log, "listening on " + port.address() + " (socket 3 from systemd)"));
  CHECK(contains(log, "listening on " + chat.address() + " (socket 4 from systemd)"));
  CHECK(contains(log, "admin: socket 5 from systemd replaces --admin 127.0.0.1:0"));
  // The socket files are the activator's, as they are a socket unit's.
  CHECK(chat.exists());
  CHECK(admin.exists());
}

TEST_CASE("socket activation: sockets without names are chat, served besides --listen") {
  SocketPath chat("activated-unnamed");
  ServerProcess server(socket_activate({"--listen=" + chat.path()}), {"--listen", "127.0.0.1:0"});
  wait_activator(server, 1);
  Client first(chat.address());
  server.wait_listening(2);
  CHECK(server.address(0) == chat.address());
  CHECK(server.address(1).starts_with("127.0.0.1:"));
  Client second(server.address(1));
  first.enter("first", "#both");
  second.enter("second", "#both");
  CHECK(first.wait_event("join")["nick"] == "second");
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(contains(server.log(), "listening on " + chat.address() + " (socket 3 from systemd)"));
}

TEST_CASE("socket activation: --proxy-protocol covers a TCP socket from systemd, not a Unix one") {
  ReservedPort port;
  SocketPath chat("activated-proxy");
  ServerProcess server(socket_activate({"--listen=" + port.address(), "--listen=" + chat.path()}),
                       {"--proxy-protocol"});
  wait_activator(server, 2);
  Client balanced(port.address());
  server.wait_listening(2);
  balanced.send_raw("PROXY TCP4 203.0.113.7 10.0.0.1 40001 7667\r\n");
  balanced.hello("balanced");
  Client local(chat.address());  // no header: Unix listeners are taken as given
  local.hello("local");
  CHECK(server.stop(SIGTERM) == 0);
  CHECK_MESSAGE(contains(server.log(), "peer=203.0.113.7:40001"), server.log());
  CHECK(contains(server.log(), "listening on " + port.address() + " (socket 3 from systemd) (PROXY header first)"));
  CHECK(contains(server.log(), "listening on " + chat.address() + " (socket 4 from systemd)\n"));
}

TEST_CASE("socket activation: a socket named neither chat nor admin stops the start, naming it") {
  SocketPath chat("activated-named");
  SocketPath other("activated-other");
  ServerProcess server(socket_activate({"--listen=" + chat.path(), "--listen=" + other.path(), "--fdname=chat:metrics"}),
                       {});
  wait_activator(server, 2);
  Client first(chat.address());
  CHECK(server.wait_exit() == 1);
  CHECK_MESSAGE(contains(server.log(), "parleyd: socket activation: LISTEN_FDNAMES names socket 4 'metrics'; "
                                       "parleyd takes chat (or unknown) for a chat listener and admin for the admin "
                                       "listener\n"),
                server.log());
  CHECK(lines_starting(server.stdout_text(), "listening on ") == 0);
  CHECK(first.wait_closed());  // never served
}

TEST_CASE("socket activation: a connection where a listening socket belongs (Accept=yes) stops the start") {
  SocketPath chat("activated-accept");
  ServerProcess activator(socket_activate({"--accept", "--listen=" + chat.path()}), {});
  wait_activator(activator, 1);
  Client first(chat.address());  // passed to a parleyd of its own, as fd 3
  CHECK_MESSAGE(activator.wait_log("parleyd: cannot use socket 3 from systemd: a stream socket that is not "
                                   "listening (a connection? the socket unit needs Accept=no)\n"),
                activator.log());
  CHECK(activator.wait_log("died with code 1"));
  activator.stop(SIGTERM);  // the activator itself, which would wait for the next connection
  CHECK_FALSE(activator.running());
  CHECK(first.wait_closed());
}

namespace {

// A unit file: each section's assignments in order (keys repeat).
using Unit = std::map<std::string, std::multimap<std::string, std::string>>;

Unit read_unit(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  Unit unit;
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      REQUIRE_MESSAGE(line.back() == ']', path << ": " << line);
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const std::size_t eq = line.find('=');
    REQUIRE_MESSAGE((eq != std::string::npos && !section.empty()), path << ": not an assignment: " << line);
    unit[section].emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return unit;
}

// The one value of `key` in `section`; fails the test unless there is exactly one.
std::string only(const Unit& unit, const std::string& section, const std::string& key) {
  const auto found = unit.find(section);
  REQUIRE_MESSAGE(found != unit.end(), "no [" << section << "]");
  REQUIRE_MESSAGE(found->second.count(key) == 1, "[" << section << "] " << key << "= should be set once");
  return found->second.find(key)->second;
}

// Every value of `key` in `section`, split at spaces.
std::vector<std::string> words(const Unit& unit, const std::string& section, const std::string& key) {
  std::vector<std::string> out;
  const auto found = unit.find(section);
  if (found == unit.end()) return out;
  for (auto [at, end] = found->second.equal_range(key); at != end; ++at) {
    std::istringstream in(at->second);
    for (std::string word; in >> word;) out.push_back(word);
  }
  return out;
}

// A systemd time span in seconds: "45", "45s", "2min".
unsigned seconds(const std::string& span) {
  std::size_t used = 0;
  const unsigned long n = std::stoul(span, &used);
  const std::string unit = span.substr(used);
  if (unit.empty() || unit == "s") return static_cast<unsigned>(n);
  REQUIRE_MESSAGE(unit == "min", "TimeoutStopSec=" << span);
  return static_cast<unsigned>(n * 60);
}

// The default `parleyd --help` prints for `flag`, in seconds; nullopt
// when parleyd has no such flag.
std::optional<unsigned> help_default_seconds(const std::string& help, const std::string& flag) {
  const std::size_t at = help.find("  " + flag + " ");
  if (at == std::string::npos) return std::nullopt;
  const std::string line = help.substr(at, help.find('\n', at) - at);
  const std::size_t open = line.rfind("(default ");
  REQUIRE_MESSAGE(open != std::string::npos, line);
  const double value = std::stod(line.substr(open + 9));  // "5", or "0.5" where fractions are allowed
  const bool in_ms = contains(line, flag + " MS ");
  return static_cast<unsigned>(std::ceil(in_ms ? value / 1000 : value));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("tools/systemd: the units say what parleyd needs, and the stop timeout covers the drain") {
  const Unit service = read_unit(source_file("tools/systemd/parleyd.service"));
  const Unit chat = read_unit(source_file("tools/systemd/parleyd.socket"));
  const Unit admin = read_unit(source_file("tools/systemd/parleyd-admin.socket"));

  CHECK(only(service, "Service", "Type") == "notify");
  CHECK(only(service, "Service", "NotifyAccess") == "main");
  CHECK(only(service, "Service", "KillSignal") == "SIGTERM");
  CHECK(only(service, "Service", "Restart") == "on-failure");
  CHECK(only(service, "Service", "LimitNOFILE") == "65536");
  const std::string exec = only(service, "Service", "ExecStart");
  // Where `meson install` puts parleyd; the sockets come from the socket units.
  CHECK_MESSAGE(exec.substr(0, exec.find(' ')) == program("PARLEYD_INSTALLED"),
                "ExecStart=" << exec << " does not run what meson installs");
  CHECK_FALSE(contains(exec, "--listen"));
  CHECK_FALSE(contains(exec, "--admin"));
  const std::vector<std::string> sockets = words(service, "Service", "Sockets");
  CHECK(sockets == std::vector<std::string>{"parleyd.socket", "parleyd-admin.socket"});
  CHECK(words(service, "Service", "RestrictAddressFamilies") == std::vector<std::string>{"AF_INET", "AF_INET6", "AF_UNIX"});

  // FileDescriptorName= names every socket of its unit: one unit per role.
  CHECK(only(chat, "Socket", "ListenStream") == "7667");
  CHECK(only(chat, "Socket", "FileDescriptorName") == "chat");
  CHECK(only(chat, "Socket", "Service") == "parleyd.service");
  CHECK(only(admin, "Socket", "ListenStream") == "127.0.0.1:7668");
  CHECK(only(admin, "Socket", "FileDescriptorName") == "admin");
  CHECK(only(admin, "Socket", "Service") == "parleyd.service");

  // The stop timeout against the defaults parleyd itself prints.
  ChildProcess help({program("PARLEYD"), "--help"}, "");
  REQUIRE(help.wait() == 0);
  const std::optional<unsigned> flush = help_default_seconds(help.output(), "--drain-timeout");
  REQUIRE(flush);
  const std::optional<unsigned> grace = help_default_seconds(help.output(), "--drain-grace");
  const std::optional<unsigned> window = help_default_seconds(help.output(), "--drain-window");
  REQUIRE(grace);
  REQUIRE(window);
  const unsigned timeout = seconds(only(service, "Service", "TimeoutStopSec"));
  CHECK_MESSAGE(timeout > *grace + *window + *flush,
                "TimeoutStopSec=" << timeout << " leaves no margin over the drain: " << *grace << " + " << *window
                                  << " + " << *flush);
  // The comment's arithmetic names the same numbers.
  const std::string text = read_text(source_file("tools/systemd/parleyd.service"));
  CHECK(contains(text, "--drain-grace    " + std::to_string(*grace) + " s"));
  CHECK(contains(text, "--drain-window  " + std::to_string(*window) + " s"));
  CHECK(contains(text, "--drain-timeout " + std::to_string(*flush) + " s"));
  CHECK(contains(text, "TimeoutStopSec  " + std::to_string(timeout) + " s"));
}

TEST_CASE("tools/systemd: systemd-analyze verify finds nothing to say") {
  // A copy whose ExecStart runs the parleyd just built, which verify wants to exist.
  const std::string dir = temp_path("units");
  ::mkdir(dir.c_str(), 0700);
  for (const char* name : {"parleyd.service", "parleyd.socket", "parleyd-admin.socket"}) {
    std::string text = read_text(source_file(std::string("tools/systemd/") + name));
    const std::string installed = "ExecStart=" + program("PARLEYD_INSTALLED");
    if (const std::size_t at = text.find(installed); at != std::string::npos)
      text.replace(at, installed.size(), "ExecStart=" + program("PARLEYD"));
    std::ofstream(dir + "/" + name) << text;
  }
  ChildProcess verify({"systemd-analyze", "verify", dir + "/parleyd.service", dir + "/parleyd.socket",
                       dir + "/parleyd-admin.socket"},
                      "");
  const int status = verify.wait();
  CHECK_MESSAGE(status == 0, verify.output());
  CHECK_MESSAGE(verify.output().empty(), verify.output());  // unknown keys are only warned about
  for (const char* name : {"parleyd.service", "parleyd.socket", "parleyd-admin.socket"})
    ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}
