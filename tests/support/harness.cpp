#include "harness.hpp"
#include "redis_server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <doctest/doctest.h>

#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

extern char** environ;

namespace parley::test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::size_t listen_count(const std::vector<std::string>& args) {
  std::size_t n = 0;
  for (const auto& a : args)
    if (a == "--listen" || a.starts_with("--listen=")) ++n;
  return n;
}

// Tests stop their server with a signal while clients are still
// connected; the production drain (5 s grace, 20 s window) would make
// each wait for it. Likewise they expect a closed connection's `quit` now,
// not after the 15 s resume grace. A test about the staggered drain, or
// about sessions and resume, sets its own.
void add_test_defaults(std::vector<std::string>& args) {
  for (const char* flag : {"--drain-grace", "--drain-window", "--resume-grace"})
    if (std::find(args.begin(), args.end(), flag) == args.end()) args.insert(args.end(), {flag, "0"});
}

// With PARLEY_TEST_CLUSTER=1 every server a test starts is a cluster of one
// on a real redis-server this process starts once, each under a prefix of
// its own: the same tests then check the contract through the backplane.
bool cluster_mode() {
  const char* value = std::getenv("PARLEY_TEST_CLUSTER");
  return value && std::string(value) == "1";
}

bool add_cluster(std::vector<std::string>& args) {
  if (!cluster_mode() || std::find(args.begin(), args.end(), "--cluster") != args.end()) return false;
  static RedisServer redis;
  static int servers = 0;
  args.insert(args.end(), {"--cluster", redis.unix_url(), "--cluster-prefix",
                           "t" + std::to_string(getpid()) + "-" + std::to_string(++servers)});
  return true;
}

}  // namespace

std::string program(const char* env_name) {
  const char* path = std::getenv(env_name);
  if (!path) throw std::runtime_error(std::string("environment variable ") + env_name + " not set");
  return path;
}

std::string source_file(std::string_view relative) { return program("SOURCE_ROOT") + "/" + std::string(relative); }

bool sanitized_build() {
  const char* value = std::getenv("PARLEY_SANITIZED");
  return value && std::string(value) == "1";
}

std::string temp_dir() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

namespace {
std::string process_path(const std::string& dir, std::string_view name) {
  return dir + "/parley-" + std::to_string(getpid()) + "-" + std::string(name);
}
}  // namespace

std::string temp_path(std::string_view name) { return process_path(temp_dir(), name); }

std::string temp_socket_path(std::string_view name) {
  const std::string file = std::string(name) + ".sock";
  const std::string path = temp_path(file);
  return path.size() < sizeof(sockaddr_un::sun_path) ? path : process_path("/tmp", file);
}

ServerProcess::ServerProcess(std::vector<std::string> args, bool expect_start, unsigned fd_limit,
                             unsigned fd_hard_limit) {
  if (listen_count(args) == 0) {
    args.insert(args.begin(), "127.0.0.1:0");
    args.insert(args.begin(), "--listen");
  }
  add_test_defaults(args);
  const bool clustered = add_cluster(args);
  std::vector<std::string> argv;
  // Under a descriptor limit, both the soft and the hard limit are lowered
  // in the child alone (util-linux's prlimit execs parleyd with them), so
  // parleyd's raising its soft limit to the hard one changes nothing.
  if (fd_limit)
    argv = {"prlimit",
            "--nofile=" + std::to_string(fd_limit) + ":" + std::to_string(fd_hard_limit ? fd_hard_limit : fd_limit),
            "--"};
  argv.push_back(program("PARLEYD"));
  argv.insert(argv.end(), args.begin(), args.end());
  spawn(argv);
  if (expect_start) wait_listening(std::max<std::size_t>(1, listen_count(args)));
  if (expect_start && clustered) REQUIRE_MESSAGE(wait_log("backplane: up"), log());
}

ServerProcess::ServerProcess(Wrapper wrapper, std::vector<std::string> args) {
  add_test_defaults(args);
  std::vector<std::string> argv = std::move(wrapper.argv);
  argv.push_back(program("PARLEYD"));
  argv.insert(argv.end(), args.begin(), args.end());
  spawn(argv);
}

void ServerProcess::spawn(const std::vector<std::string>& args) {
  log_path_ = temp_dir() + "/parleyd-test-XXXXXX";
  const int log_fd = mkstemp(log_path_.data());
  REQUIRE(log_fd >= 0);
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(log_fd);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << args[0] << ": " << std::strerror(rc));
  stdout_fd_ = out[0];
}

void ServerProcess::wait_listening(std::size_t count, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (addresses_.size() < count) {
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, remaining_ms(deadline));
    REQUIRE_MESSAGE(ready > 0, "parleyd did not print 'listening on' in time; log:\n" << log());
    char chunk[4096];
    const ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
    REQUIRE_MESSAGE(n > 0, "parleyd exited before listening; log:\n" << log());
    partial_line_.append(chunk, static_cast<std::size_t>(n));
    stdout_.append(chunk, static_cast<std::size_t>(n));
    std::size_t lf;
    while ((lf = partial_line_.find('\n')) != std::string::npos) {
      const std::string line = partial_line_.substr(0, lf);
      partial_line_.erase(0, lf + 1);
      const std::string prefix = "listening on ";
      if (line.starts_with(prefix)) addresses_.push_back(line.substr(prefix.size()));
    }
  }
}

bool ServerProcess::wait_log(std::string_view text, std::size_t count, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  REQUIRE(watch >= 0);
  REQUIRE(inotify_add_watch(watch, log_path_.c_str(), IN_MODIFY) >= 0);
  bool found = false;
  for (;;) {
    // Read after the watch is in place, so no write in between goes unseen.
    const std::string seen = log();
    std::size_t times = 0;
    for (std::size_t at = seen.find(text); at != std::string::npos; at = seen.find(text, at + text.size())) ++times;
    if (times >= count) {
      found = true;
      break;
    }
    pollfd p{watch, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) break;
    char events[4096];
    while (read(watch, events, sizeof events) > 0) {
    }
  }
  close(watch);
  return found;
}

// Ends with a drain, so that the server's own exit path runs in every test
// (and LeakSanitizer checks it in sanitizer builds).
ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    const int status = stop(SIGTERM, 15000);
    if (status != 0 && std::uncaught_exceptions() == 0)
      FAIL_CHECK("parleyd did not drain cleanly (status " << status << "); log:\n" << log());
    if (!exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

bool ServerProcess::running() {
  if (exited_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return true;
}

bool ServerProcess::read_stdout_chunk() {
  char chunk[4096];
  const ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
  if (n <= 0) return false;
  stdout_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

int ServerProcess::wait_exit(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  // Reading stdout until EOF doubles as the wait: the pipe closes at exit.
  while (!exited_) {
    pollfd p{stdout_fd_, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (poll(&p, 1, std::min(left, 50)) > 0) read_stdout_chunk();
    if (!running()) break;
    if (left == 0) return -1;
  }
  // It exited: what it wrote last may still be in the pipe (--help's 5 KB
  // is two reads), and the pipe is at EOF once that is read.
  for (pollfd p{stdout_fd_, POLLIN, 0}; poll(&p, 1, 0) > 0 && read_stdout_chunk();) {
  }
  return status_;
}

int ServerProcess::stop(int signal, int timeout_ms) {
  if (!exited_) kill(pid_, signal);
  return wait_exit(timeout_ms);
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::string ServerProcess::admin_address() const {
  const std::string prefix = "admin listening on ";
  const std::size_t at = stdout_.find(prefix);
  REQUIRE_MESSAGE(at != std::string::npos, "no admin listener in:\n" << stdout_);
  const std::size_t end = stdout_.find('\n', at);
  return stdout_.substr(at + prefix.size(), end - at - prefix.size());
}

std::string ServerProcess::log() const { return read_file(log_path_); }

long ServerProcess::rss_kb() const {
  std::istringstream in(read_file("/proc/" + std::to_string(pid_) + "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

long ServerProcess::cpu_ticks() const {
  const std::string stat = read_file("/proc/" + std::to_string(pid_) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

int ServerProcess::open_fds() const {
  DIR* dir = opendir(("/proc/" + std::to_string(pid_) + "/fd").c_str());
  if (!dir) return -1;
  int n = 0;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::string& input, bool keep_input) {
  int in[2], out[2];
  REQUIRE(pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << args[0]);
  out_fd_ = out[0];
  // Small scripts fit the pipe buffer; the program reads them at its pace.
  REQUIRE(write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  if (keep_input) in_fd_ = in[1];
  else close(in[1]);
}

void ChildProcess::write_input(std::string_view text) {
  REQUIRE(in_fd_ >= 0);
  REQUIRE(write(in_fd_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
}

void ChildProcess::close_input() {
  if (in_fd_ >= 0) close(in_fd_);
  in_fd_ = -1;
}

bool ChildProcess::wait_output(std::string_view text, std::size_t count, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (count_of(output_, text) < count) {
    pollfd p{out_fd_, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (left == 0 || poll(&p, 1, left) <= 0) return false;
    char chunk[4096];
    const ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n <= 0) return false;
    output_.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

void check_in_order(const std::string& text, const std::vector<std::string>& parts) {
  std::size_t at = 0;
  for (const std::string& part : parts) {
    const std::size_t found = text.find(part, at);
    CHECK_MESSAGE(found != std::string::npos, "not found in order: " << part);
    if (found != std::string::npos) at = found + part.size();
  }
}

std::size_t count_of(std::string_view text, std::string_view part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string_view::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

ChildProcess::~ChildProcess() {
  close_input();
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

int ChildProcess::wait(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pollfd p{out_fd_, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (left == 0) break;
    if (poll(&p, 1, left) <= 0) break;
    char chunk[4096];
    const ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n <= 0) break;  // EOF: the program closed its output, normally by exiting
    output_.append(chunk, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (remaining_ms(deadline) > 0) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    pollfd none{-1, 0, 0};
    poll(&none, 0, 10);  // the program closed stdout and is about to exit
  }
  return -1;
}

int ChildProcess::stop(int signal, int timeout_ms) {
  if (!exited_ && pid_ > 0) kill(pid_, signal);
  return wait(timeout_ms);
}

namespace {

int connect_or_explain(const std::string& address, std::string& error) {
  const std::optional<Address> parsed = parse_address(address, error);
  return parsed ? connect_to(*parsed, error) : -1;
}

}  // namespace

int connect_socket(const std::string& address) {
  std::string error;
  return connect_or_explain(address, error);
}

Endpoint resolve_one(const std::string& address) {
  std::string error;
  const std::optional<Address> parsed = parse_address(address, error);
  REQUIRE_MESSAGE(parsed, address << ": " << error);
  const std::vector<Endpoint> endpoints = resolve(*parsed, error);
  REQUIRE_MESSAGE(!endpoints.empty(), address << ": " << error);
  return endpoints.front();
}

Client::Client(const std::string& address, int) {
  std::string error;
  fd_ = connect_or_explain(address, error);
  REQUIRE_MESSAGE(fd_ >= 0, "cannot connect to " << address << ": " << error);
}

Client::Client(Client&& other) noexcept
    : events(std::move(other.events)), drained(std::move(other.drained)), fd_(other.fd_),
      buffer_(std::move(other.buffer_)), eof_(other.eof_), next_id_(other.next_id_) {
  other.fd_ = -1;
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

void Client::send_raw(std::string_view bytes, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    REQUIRE_MESSAGE((errno == EAGAIN || errno == EWOULDBLOCK), "send failed: " << std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    REQUIRE_MESSAGE(poll(&p, 1, remaining_ms(deadline)) > 0, "send timed out");
  }
}

std::optional<std::string> Client::read_line(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const std::size_t lf = buffer_.find('\n');
    if (lf != std::string::npos) {
      std::string line = buffer_.substr(0, lf);
      buffer_.erase(0, lf + 1);
      return line;
    }
    if (eof_) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) return std::nullopt;
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

json Client::next(int timeout_ms) {
  std::optional<std::string> line = read_line(timeout_ms);
  REQUIRE_MESSAGE(line.has_value(), "no line from the server within " << timeout_ms << " ms");
  json value = json::parse(*line, nullptr, false);
  REQUIRE_MESSAGE(!value.is_discarded(), "server sent invalid JSON: " << *line);
  return value;
}

json Client::next_reply(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    json line = next(remaining_ms(deadline));
    if (line.contains("ok")) return line;
    events.push_back(std::move(line));
  }
}

json Client::call(json request, int timeout_ms) {
  const long long id = next_id_++;
  request["id"] = id;
  send(request);
  json reply = next_reply(timeout_ms);
  REQUIRE_MESSAGE(reply["id"] == id, "reply out of order: " << reply.dump());
  return reply;
}

json Client::wait_event(const std::string& name, int timeout_ms) {
  while (!events.empty()) {
    json e = std::move(events.front());
    events.pop_front();
    if (e.value("event", "") == name) return e;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    json line = next(remaining_ms(deadline));
    if (line.value("event", "") == name) return line;
  }
}

json Client::hello(const std::string& nick) {
  json reply = call({{"cmd", "hello"}, {"nick", nick}});
  REQUIRE_MESSAGE(reply["ok"] == true, reply.dump());
  return reply;
}

json Client::join(const std::string& channel) {
  json reply = call({{"cmd", "join"}, {"channel", channel}});
  REQUIRE_MESSAGE(reply["ok"] == true, reply.dump());
  return reply;
}

bool Client::wait_closed(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::optional<std::string> line = read_line(remaining_ms(deadline));
    if (line) {
      drained.push_back(*line);
      continue;
    }
    return eof_;
  }
}

void Client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Client::reset() {
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd_);
  fd_ = -1;
}

void Client::set_receive_buffer(int bytes) {
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

}  // namespace parley::test

namespace parley::test {

BenchRun run_bench(const std::vector<std::string>& args, int timeout_ms) {
  std::vector<std::string> argv{program("PARLEY_BENCH")};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv, "");
  return finish_bench(child, timeout_ms);
}

BenchRun finish_bench(ChildProcess& child, int timeout_ms) {
  BenchRun run;
  run.status = child.wait(timeout_ms);
  run.output = child.output();
  for (std::size_t at = 0; at < run.output.size();) {
    const auto end = run.output.find('\n', at);
    const std::string line = run.output.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.starts_with("{")) run.result = json::parse(line, nullptr, false);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return run;
}

BenchRun run_bench_smoke(std::vector<std::string> args, const std::string& server, const std::string& duration,
                         pid_t server_pid) {
  args.insert(args.end(), {"--server", server});
  if (server_pid > 0) args.insert(args.end(), {"--server-pid", std::to_string(server_pid)});
  args.insert(args.end(), {"--json", "--warmup", "0.1", "--duration", duration, "--drain-timeout", "5",
                           "--setup-timeout", "20"});
  return run_bench(args, 60000);
}

void check_bench_clean(const BenchRun& run) {
  INFO(run.output);
  REQUIRE(run.result.is_object());
  const json& c = run.result["correctness"];
  CHECK(run.status == 0);
  CHECK(run.result["ok"] == true);
  CHECK(c["lost"] == 0);
  CHECK(c["duplicates"] == 0);
  CHECK(c["out_of_order"] == 0);
  CHECK(c["errors"] == 0);
  CHECK(c["disconnects"] == 0);
  CHECK(c["received"] == c["expected"]);
  // Every message was answered, but with --reconnect a message whose
  // connection went first may be neither acked nor failed.
  CHECK(c["acked"].get<long>() + c.value("unacknowledged", 0L) == c["sent"].get<long>());
}

ReservedPort::ReservedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  const int one = 1;
  REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  const Endpoint any_port = resolve_one("127.0.0.1:0");
  REQUIRE(::bind(fd_, any_port.get(), any_port.length) == 0);
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  port_ = ntohs(addr.sin_port);
  address_ = "127.0.0.1:" + std::to_string(port_);
}

ReservedPort::~ReservedPort() {
  if (fd_ >= 0) ::close(fd_);
}

int free_port() { return ReservedPort().port(); }

bool poll_until(const std::function<bool()>& done, int timeout_ms, int interval_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    const int left = remaining_ms(deadline);
    if (left == 0) return false;
    pollfd none{-1, 0, 0};
    poll(&none, 0, std::min(left, interval_ms));
  }
  return true;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  for (const std::string& line : lines_of(text))
    if (line.starts_with(prefix)) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

namespace {

// A chunked body's chunks joined; what does not parse is cut off there.
std::string dechunk(std::string_view chunked) {
  std::string body;
  for (;;) {
    const std::size_t line_end = chunked.find("\r\n");
    if (line_end == std::string_view::npos) break;
    const std::size_t size = std::strtoul(std::string(chunked.substr(0, line_end)).c_str(), nullptr, 16);
    if (size == 0 || line_end + 2 + size > chunked.size()) break;
    body.append(chunked.substr(line_end + 2, size));
    chunked.remove_prefix(std::min(chunked.size(), line_end + 2 + size + 2));
  }
  return body;
}

}  // namespace

HttpResponse http_get(const std::string& address, const std::string& target, int timeout_ms) {
  HttpResponse response;
  const int fd = connect_socket(address);
  if (fd < 0) return response;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: parley-test\r\nConnection: close\r\n\r\n";
  std::string raw;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, remaining_ms(deadline)) <= 0) break;
      char chunk[65536];
      const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      raw.append(chunk, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  const std::size_t header_end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || header_end == std::string::npos) return response;
  response.status = std::atoi(raw.c_str() + 9);
  std::string headers = raw.substr(0, header_end);
  std::transform(headers.begin(), headers.end(), headers.begin(), [](unsigned char c) { return std::tolower(c); });
  response.body = raw.substr(header_end + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) response.body = dechunk(response.body);
  return response;
}

double server_metric(const ServerProcess& server, const std::string& name) {
  const HttpResponse r = http_get(server.admin_address(), "/metrics");
  return r.status == 200 ? metric_value(r.body, name).value_or(-1) : -1;
}

void queue_unread(Client& stuck, Client& talker, const std::string& channel) {
  stuck.set_receive_buffer(4096);
  stuck.enter("stuck", channel);
  talker.enter("talker", channel);
  const std::string text(4000, 'q');
  for (int i = 0; i < 3000; ++i) talker.send({{"cmd", "say"}, {"channel", channel}, {"text", text}});
  for (int i = 0; i < 3000; ++i) REQUIRE(talker.next_reply(10000)["ok"] == true);
}

}  // namespace parley::test
