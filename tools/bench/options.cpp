#include "options.hpp"

#include <charconv>
#include <functional>
#include <map>

#include "stamp.hpp"

namespace parley::bench {
namespace {

template <typename T>
T number(const std::string& flag, const std::string& text, T low, T high) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < low || value > high)
    throw UsageError(flag + ": expected a number from " + std::to_string(low) + " to " + std::to_string(high) +
                     ", got '" + text + "'");
  return value;
}

Scenario scenario_of(const std::string& name) {
  for (Scenario s : {Scenario::fanout, Scenario::rooms, Scenario::pairs, Scenario::idle, Scenario::connect,
                     Scenario::ramp})
    if (name == scenario_name(s)) return s;
  throw UsageError("unknown scenario '" + name + "' (fanout, rooms, pairs, idle, connect, ramp)");
}

}  // namespace

std::string servers_text(const Options& o) {
  std::string text;
  for (const std::string& server : o.servers) text += (text.empty() ? "" : ",") + server;
  return text;
}

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::fanout: return "fanout";
    case Scenario::rooms: return "rooms";
    case Scenario::pairs: return "pairs";
    case Scenario::idle: return "idle";
    case Scenario::connect: return "connect";
    case Scenario::ramp: return "ramp";
  }
  return "?";
}

std::string usage_text() {
  return R"(usage: parley-bench SCENARIO [flags]

Scenarios:
  fanout    S subscribers and P publishers in one channel
  rooms     R channels of M members; every member talks
  pairs     N pairs of users messaging each other directly
  idle      N idle registered connections: server memory per connection
  connect   connect -> hello [-> join] -> quit cycles
  ramp      fanout at a rising offered rate until p99 or delivery falls behind

Target:
  --server HOST:PORT      server to load (default 127.0.0.1:7667; [::1]:PORT, unix:PATH).
                          Repeatable: several servers (a cluster's instances) share the
                          connections round robin: connection i (or connect cycle i) goes
                          to server i mod N. fanout and ramp: the publishers go to the
                          first --server and the subscribers round robin over the others,
                          so `--server A --server B` puts the publishers on A and every
                          subscriber on B. At most 64
  --protocol NAME         parley, redis or nats (default parley)
  --transport NAME        tcp (default), ws or socketio, with --protocol parley: ws
                          upgrades every connection at GET /ws (subprotocol parley.v1)
                          and sends each request as one masked text frame, as a browser
                          does; socketio carries each line as a Socket.IO event "m"
                          (42["m",LINE], Engine.IO v4 on WebSocket at /socket.io/),
                          for the servers of tools/bench/servers/
  --server-pid PID        read the server's CPU time and memory from /proc. Repeatable:
                          summed over every process given (a cluster's parleyd and its
                          Redis); one that exits during the window is left out

Shape:
  --subscribers S         fanout/ramp subscribers (default 1000)
  --publishers P          fanout/ramp publishers, also members (default 1)
  --rooms R --members M   rooms shape (default 100 x 10)
  --pairs N               pairs (default 500)
  --conns N               idle: connections (default 1000); connect: concurrent cycles (default 50)
  --connect-join          connect: also join a channel in every cycle
  --payload BYTES         message text size, at least 36 (default 64)

Load:
  --window N              closed loop: messages in flight per publisher (default 16)
  --rate MSGS             open loop: total messages/s offered at fixed times (default: closed loop)
  --duration SECONDS      measured window (default 5)
  --warmup SECONDS        load before measuring (default 1)
  --drain-timeout SECONDS wait this long for the last messages (default 10)
  --setup-timeout SECONDS wait this long for all connections to be ready (default 60)
  --connect-concurrency N connections being set up at once (default 256)

Ramp:
  --ramp-start MSGS --ramp-factor F --step SECONDS --p99-bound MS --ramp-max MSGS
                          (defaults 1000, 1.5, 2, 10, 1e8)

Drains:
  --reconnect             idle, connect, fanout and rooms: after `shutdown`, wait its
                          retry_ms (jittered over 0.5-1.5x; the connection stays in use
                          meanwhile, but publishers send nothing new on it), then reconnect
                          to the next --server (the same one when there is one: a balancer)
                          and carry on; a lost connection or a failed connect comes back
                          after about 500 ms. `shutting_down` is then no error; every other
                          error still is. Parley sessions are resumed (`hello` with
                          `resume`); fanout and rooms members then page `history` after the
                          last seq they saw, and each seq counts once whether it came live
                          or from history. A resume answered `resumed: false` is an error
                          there, and so is any `quit` event. A publisher's `say` left
                          unanswered by a lost connection need not arrive, but if it
                          reaches anyone it must reach everyone, once. The JSON counts
                          reconnects, resumes and what the catch-up fetched

Output:
  --json                  one JSON object on stdout instead of the table
  --no-progress           no live line on stderr
  --source-addrs N        loopback: spread connections over 127.0.0.1..127.0.0.N
  --tag NAME              prefix of nicks and channels (default: from the PID)

Exit status: 0 clean run; 1 messages lost, duplicated or out of order, errors
or disconnects; 2 bad usage; 3 could not set up the run.
)";
}

Options parse_options(const std::vector<std::string>& args, bool& help) {
  Options o;
  help = false;
  bool have_server = false;
  std::map<std::string, std::function<void(const std::string&)>> with_value = {
      {"--server",
       [&](const std::string& v) {
         if (v.empty()) throw UsageError("--server: expected HOST:PORT, [V6]:PORT or unix:PATH");
         if (!have_server) o.servers.clear();  // the first one replaces the default
         have_server = true;
         if (o.servers.size() == max_servers) throw UsageError("--server: at most 64 servers");
         o.servers.push_back(v);
       }},
      {"--protocol",
       [&](const std::string& v) {
         if (v != "parley" && v != "redis" && v != "nats")
           throw UsageError("--protocol: expected parley, redis or nats, got '" + v + "'");
         o.protocol = v;
       }},
      {"--transport",
       [&](const std::string& v) {
         if (v != "tcp" && v != "ws" && v != "socketio")
           throw UsageError("--transport: expected tcp, ws or socketio, got '" + v + "'");
         o.transport = v;
       }},
      {"--server-pid",
       [&](const std::string& v) { o.server_pids.push_back(number<pid_t>("--server-pid", v, 1, 1 << 30)); }},
      {"--subscribers", [&](const std::string& v) { o.subscribers = number("--subscribers", v, 1, 1'000'000); }},
      {"--publishers", [&](const std::string& v) { o.publishers = number("--publishers", v, 1, 100'000); }},
      {"--rooms", [&](const std::string& v) { o.rooms = number("--rooms", v, 1, 1'000'000); }},
      {"--members", [&](const std::string& v) { o.members = number("--members", v, 2, 100'000); }},
      {"--pairs", [&](const std::string& v) { o.pairs = number("--pairs", v, 1, 1'000'000); }},
      {"--conns", [&](const std::string& v) { o.conns = number("--conns", v, 1, 1'000'000); }},
      {"--payload",
       [&](const std::string& v) { o.payload = number<std::size_t>("--payload", v, stamp_size, 1 << 20); }},
      {"--window", [&](const std::string& v) { o.window = number("--window", v, 1, 1 << 20); }},
      {"--rate", [&](const std::string& v) { o.rate = number("--rate", v, 0.0, 1e9); }},
      {"--duration", [&](const std::string& v) { o.duration_s = number("--duration", v, 0.1, 1e6); }},
      {"--warmup", [&](const std::string& v) { o.warmup_s = number("--warmup", v, 0.0, 1e6); }},
      {"--drain-timeout", [&](const std::string& v) { o.drain_timeout_s = number("--drain-timeout", v, 0.1, 1e4); }},
      {"--setup-timeout", [&](const std::string& v) { o.setup_timeout_s = number("--setup-timeout", v, 0.1, 1e4); }},
      {"--connect-concurrency",
       [&](const std::string& v) { o.connect_concurrency = number("--connect-concurrency", v, 1, 100'000); }},
      {"--ramp-start", [&](const std::string& v) { o.ramp_start = number("--ramp-start", v, 1.0, 1e9); }},
      {"--ramp-factor", [&](const std::string& v) { o.ramp_factor = number("--ramp-factor", v, 1.01, 100.0); }},
      {"--step", [&](const std::string& v) { o.step_s = number("--step", v, 0.1, 1e4); }},
      {"--p99-bound", [&](const std::string& v) { o.p99_bound_ms = number("--p99-bound", v, 0.001, 1e6); }},
      {"--ramp-max", [&](const std::string& v) { o.ramp_max = number("--ramp-max", v, 1.0, 1e10); }},
      {"--source-addrs", [&](const std::string& v) { o.source_addrs = number("--source-addrs", v, 1, 254); }},
      {"--tag", [&](const std::string& v) { o.tag = v; }},
  };
  std::map<std::string, std::function<void()>> switches = {
      {"--json", [&] { o.json = true; }},
      {"--no-progress", [&] { o.progress = false; }},
      {"--connect-join", [&] { o.connect_join = true; }},
      {"--reconnect", [&] { o.reconnect = true; }},
  };

  bool have_scenario = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      return o;
    }
    if (arg.rfind("--", 0) != 0) {
      if (have_scenario) throw UsageError("unexpected argument '" + arg + "'");
      o.scenario = scenario_of(arg);
      have_scenario = true;
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    if (auto s = switches.find(arg); s != switches.end()) {
      if (inline_value) throw UsageError(arg + " takes no value");
      s->second();
      continue;
    }
    auto f = with_value.find(arg);
    if (f == with_value.end()) throw UsageError("unknown flag '" + arg + "'");
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      value = args[++i];
    }
    f->second(value);
  }
  if (!have_scenario) throw UsageError("which scenario? (fanout, rooms, pairs, idle, connect, ramp)");
  // A fanout or rooms member that reconnects catches up on what its channel
  // said meanwhile from the channel's history, which only Parley's sessions
  // offer. Direct messages (pairs) have no history, and ramp's steps measure
  // a rate that reconnects would only blur.
  if (o.reconnect) {
    if (o.scenario == Scenario::pairs || o.scenario == Scenario::ramp)
      throw UsageError("--reconnect works with idle, connect, fanout and rooms (direct messages have no history "
                       "to catch up from; ramp measures rates)");
    if ((o.scenario == Scenario::fanout || o.scenario == Scenario::rooms) && o.protocol != "parley")
      throw UsageError("--reconnect with fanout and rooms needs --protocol parley: members resume their sessions "
                       "and catch up from history");
  }
  if (o.transport != "tcp" && o.protocol != "parley")
    throw UsageError("--transport " + o.transport + " carries --protocol parley's lines only");
  if (o.conns == 0) o.conns = o.scenario == Scenario::connect ? 50 : 1000;
  return o;
}

}  // namespace parley::bench
