// Test harness: starts the real parleyd on port 0 and talks to it over real
// sockets. Every wait is bounded; a hang fails the test instead of stalling.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "exposition.hpp"  // metric_value, metric_families: reading /metrics
#include "parley/socket/endpoint.hpp"

namespace parley::test {

using json = nlohmann::json;
constexpr int default_timeout_ms = 5000;

// Path of a built program, from the environment meson sets (PARLEYD, PARLEY).
std::string program(const char* env_name);

// A file of the source tree, from $SOURCE_ROOT (which meson sets): "tools/soak".
std::string source_file(std::string_view relative);

// True in ASan/UBSan builds, whose allocator makes RSS measurements meaningless.
bool sanitized_build();

// $TMPDIR, or /tmp when it is unset or empty.
std::string temp_dir();
// A path in temp_dir() that is this process's and `name`'s alone:
// "parley-PID-NAME". Nothing is created there.
std::string temp_path(std::string_view name);
// temp_path("NAME.sock") for a Unix socket, in /tmp instead when $TMPDIR is
// too long for sun_path.
std::string temp_socket_path(std::string_view name);

class ServerProcess {
 public:
  // Starts parleyd with `args`; adds `--listen 127.0.0.1:0` unless args listen
  // somewhere. Waits for one `listening on` line per listener.
  // With `fd_limit`, the server starts under that RLIMIT_NOFILE.
  // With `fd_hard_limit` too, the hard limit is that and the soft one fd_limit.
  explicit ServerProcess(std::vector<std::string> args = {}, bool expect_start = true,
                         unsigned fd_limit = 0, unsigned fd_hard_limit = 0);
  // A program that runs parleyd: its argv up to parleyd's path, such as
  // {"systemd-socket-activate", "-l", PATH}.
  struct Wrapper {
    std::vector<std::string> argv;
  };
  // Starts `wrapper`, parleyd's path and exactly `args` after it (no
  // --listen is added), and waits for nothing: wait_log() and
  // wait_listening() do, when the test is ready.
  ServerProcess(Wrapper wrapper, std::vector<std::string> args);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address(std::size_t i = 0) const { return addresses_.at(i); }
  // With --admin: the address of "admin listening on ADDRESS", which parleyd
  // prints before its chat listeners; REQUIREs that it printed one.
  std::string admin_address() const;
  // Reads standard output until `count` `listening on ADDRESS` lines have
  // come in all (address(i) then holds them); REQUIREs that they come in time.
  void wait_listening(std::size_t count, int timeout_ms = 10000);
  // Waits until `text` appears `count` times in what the process wrote to
  // standard error; false when it does not within the timeout.
  bool wait_log(std::string_view text, std::size_t count = 1, int timeout_ms = 10000);
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit status, or -1 on
  // timeout / death by signal.
  int stop(int signal, int timeout_ms = 15000);
  // Waits for the process to exit by itself (e.g. bad flags).
  int wait_exit(int timeout_ms = 10000);
  bool running();

  long rss_kb() const;
  long cpu_ticks() const;  // utime + stime from /proc
  int open_fds() const;
  std::string log() const;  // everything it wrote to stderr so far
  std::string stdout_text() const { return stdout_; }

 private:
  void spawn(const std::vector<std::string>& argv);
  bool read_stdout_chunk();  // one read into stdout_; false at EOF or on an error

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_;
  std::string partial_line_;  // of stdout, not yet a whole line
  std::string log_path_;
  std::vector<std::string> addresses_;
  bool exited_ = false;
  int status_ = -1;
};

// Any other program (example clients, the parley client): stdin fed from a
// string, stdout and stderr collected together.
class ChildProcess {
 public:
  // With `keep_input`, stdin stays open after `input` for write_input()
  // until close_input() (or the destructor): a script typed over time.
  ChildProcess(const std::vector<std::string>& argv, const std::string& input, bool keep_input = false);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Collects output until the program exits; returns its exit status, or -1
  // when it did not exit in time (then it is killed).
  int wait(int timeout_ms = 15000);
  const std::string& output() const { return output_; }
  // Collects output until `text` appears in it `count` times in all; false
  // when it does not in time (or the program closed its output first).
  bool wait_output(std::string_view text, std::size_t count = 1, int timeout_ms = default_timeout_ms);
  void write_input(std::string_view text);
  void close_input();
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits as wait() does.
  int stop(int signal, int timeout_ms = 15000);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int in_fd_ = -1;
  std::string output_;
  bool exited_ = false;
};

// How often `part` occurs in `text`.
std::size_t count_of(std::string_view text, std::string_view part);
// CHECKs that `parts` appear in `text` in this order.
void check_in_order(const std::string& text, const std::vector<std::string>& parts);

class Client {
 public:
  // Connects to HOST:PORT, [V6]:PORT or unix:PATH.
  explicit Client(const std::string& address, int timeout_ms = default_timeout_ms);
  // Takes over a connected socket, such as one a test's own listener accepted.
  explicit Client(int connected_fd) : fd_(connected_fd) {}
  ~Client();
  Client(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Fails the test unless all of `bytes` is taken within timeout_ms.
  void send_raw(std::string_view bytes, int timeout_ms = default_timeout_ms);
  void send(const json& request) { send_raw(request.dump() + "\n"); }

  // The next line, raw; nullopt on timeout or EOF.
  std::optional<std::string> read_line(int timeout_ms = default_timeout_ms);
  // The next line as JSON; fails the test on timeout, EOF or bad JSON.
  json next(int timeout_ms = default_timeout_ms);
  // The next reply (a line with "ok"); events before it go to `events`.
  json next_reply(int timeout_ms = default_timeout_ms);
  // Sends `request` and returns its reply; events that arrive first are kept
  // in `events`.
  json call(json request, int timeout_ms = default_timeout_ms);
  // The next event named `name`, from `events` first; skips others.
  json wait_event(const std::string& name, int timeout_ms = default_timeout_ms);

  // hello with `nick`; REQUIREs success.
  json hello(const std::string& nick);
  json join(const std::string& channel);
  // hello, then join: returns the join reply.
  json enter(const std::string& nick, const std::string& channel) {
    hello(nick);
    return join(channel);
  }

  // Reads until EOF; true if the server closed within the timeout. Lines read
  // meanwhile are appended to `drained`.
  bool wait_closed(int timeout_ms = default_timeout_ms);

  void shutdown_write();
  void reset();  // close with RST (SO_LINGER 0)
  void set_receive_buffer(int bytes);
  int fd() const { return fd_; }

  std::deque<json> events;
  std::vector<std::string> drained;

 private:
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  long long next_id_ = 1;
};

// One parley-bench run ($PARLEY_BENCH with `args`): its exit status, all it
// printed, and the JSON object it printed (null without `--json` or when it
// printed none).
struct BenchRun {
  int status = -1;
  json result;
  std::string output;
};
BenchRun run_bench(const std::vector<std::string>& args, int timeout_ms = 120000);
// The same for a run started by the test itself (to act while it runs):
// waits for it and reads what it printed.
BenchRun finish_bench(ChildProcess& bench, int timeout_ms = 120000);

// A brief smoke run: `args` (a scenario and its options) against `server`
// with --json, a 0.1 s warm-up, `duration` seconds measured, a 5 s drain and
// 20 s to set up; with `server_pid`, the server's CPU and memory measured.
BenchRun run_bench_smoke(std::vector<std::string> args, const std::string& server, const std::string& duration,
                         pid_t server_pid = 0);

// The run's own accounting came out clean: every acked message reached every
// recipient exactly once, in order, with no errors or disconnects, and every
// message sent was answered (or, with --reconnect, left unanswered by a
// connection that went).
void check_bench_clean(const BenchRun& run);

// Leaves `stuck` with about 12 MB queued that it never reads, more than the
// kernel's socket buffers hold: both join `channel` (as "stuck" and
// "talker"), stuck shrinks its receive buffer, and talker says 3000
// messages of 4000 bytes, each answered before this returns. The server
// needs --rate 0 and a --max-pending above 12 MB.
void queue_unread(Client& stuck, Client& talker, const std::string& channel);

// A TCP port on 127.0.0.1 for a program that cannot report a port it chose
// itself (Prometheus, HAProxy, systemd-socket-activate), kept for the test:
// a socket bound with SO_REUSEADDR that never listens. No other bind or
// connect can take the port meanwhile, yet a program that sets
// SO_REUSEADDR too (those three do) can bind and listen on it: the kernel
// lets sockets share a port that way while at most one of them listens.
// Keep it until the program is done with the port.
class ReservedPort {
 public:
  ReservedPort();
  ~ReservedPort();
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  int port() const { return port_; }
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string address_;
};

// A TCP port on 127.0.0.1 that nobody listens on now. Racy: another
// process may take it before the program binds it. Prefer ReservedPort;
// this stays until tests/support/balancer.cpp has switched.
int free_port();

// One HTTP/1.1 GET with `Connection: close`, read to EOF (a chunked body is
// decoded). status is 0 when the server could not be reached or answered
// nothing in time.
struct HttpResponse {
  int status = 0;
  std::string body;
};
HttpResponse http_get(const std::string& address, const std::string& target, int timeout_ms = default_timeout_ms);

// A gauge or counter of a server's /metrics (its --admin listener); -1 when
// the page cannot be read or has no such sample.
double server_metric(const ServerProcess& server, const std::string& name);

// Calls `done` until it returns true, sleeping a little (`interval_ms`)
// between calls; false when `timeout_ms` passes first. Only for what has
// no event to await (a server's HTTP endpoints, another program's API, a
// file's going away): where a socket, a pipe or a log can be waited on,
// wait on it instead (Client::read_line, ServerProcess::wait_log).
bool poll_until(const std::function<bool()>& done, int timeout_ms, int interval_ms = 50);

// `text` split at LF, without them (a last line without LF counts too).
std::vector<std::string> lines_of(const std::string& text);
// How many lines of `text` start with `prefix`.
std::size_t lines_starting(const std::string& text, const std::string& prefix);
// Whether `part` occurs in `text`.
bool contains(const std::string& text, const std::string& part);

// Connects a raw socket with no test assertions (for load/churn helpers).
int connect_socket(const std::string& address);

// The first endpoint `address` resolves to, for tests that bind or connect a
// socket of their own; REQUIREs that it resolves.
parley::Endpoint resolve_one(const std::string& address);

}  // namespace parley::test
