#include "redis_server.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

extern char** environ;

namespace parley::test {
namespace {

timeval timeval_of(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

std::string text_of(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      return std::to_string(reply.integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ERROR:
      return "(error) " + std::string(reply.str, reply.len);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < reply.elements; ++i) out += (i ? "\n" : "") + text_of(*reply.element[i]);
      return out;
    }
    default:
      return std::string(reply.str, reply.len);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

RedisServer::RedisServer() {
  REQUIRE_MESSAGE(access(redis_server_binary, X_OK) == 0,
                  redis_server_binary << " is not installed: tools/install-deps installs redis-server");
  dir_ = temp_dir() + "/parley-redis-XXXXXX";
  if (dir_.size() + 11 >= sizeof(sockaddr_un::sun_path)) dir_ = "/tmp/parley-redis-XXXXXX";
  REQUIRE(mkdtemp(dir_.data()) != nullptr);
  path_ = dir_ + "/redis.sock";
  spawn();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);  // works on a SIGSTOPped process too
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void RedisServer::spawn() {
  const std::vector<std::string> args{
      redis_server_binary, "--port", std::to_string(port()), "--bind", "127.0.0.1",
      "--unixsocket", path_, "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
      "--dir", dir_, "--logfile", dir_ + "/redis.log", "--daemonize", "no"};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // Before the log file is open it prints to stdout (a bad option, say).
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid_, redis_server_binary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << redis_server_binary << ": " << std::strerror(rc));
  wait_ready();
}

// Polls PING over the unix socket: a starting server offers nothing to
// await (the socket file appears before it answers, and its log is no API).
void RedisServer::wait_ready() {
  std::string last;
  const bool ready = poll_until(
      [&] {
        int status = 0;
        REQUIRE_MESSAGE(waitpid(pid_, &status, WNOHANG) == 0, "redis-server exited at start:\n" << log());
        const timeval timeout = timeval_of(200);
        redisContext* c = redisConnectUnixWithTimeout(path_.c_str(), timeout);
        if (c == nullptr || c->err) {
          last = c ? c->errstr : "out of memory";
          redisFree(c);
          return false;
        }
        redisSetTimeout(c, timeout);
        auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
        const bool pong = reply && reply->type == REDIS_REPLY_STATUS && std::string(reply->str) == "PONG";
        last = reply ? text_of(*reply) : c->errstr;
        if (reply) freeReplyObject(reply);
        redisFree(c);
        return pong;
      },
      10000, 10);
  REQUIRE_MESSAGE(ready, "redis-server did not answer PING within 10 s (" << last << "):\n" << log());
}

bool RedisServer::wait_exit(int timeout_ms) {
  const bool exited = poll_until([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, timeout_ms, 10);
  if (exited) pid_ = -1;
  return exited;
}

void RedisServer::stop() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGCONT);  // a paused server cannot act on SIGTERM
  ::kill(pid_, SIGTERM);
  REQUIRE_MESSAGE(wait_exit(10000), "redis-server did not exit within 10 s of SIGTERM:\n" << log());
}

void RedisServer::kill() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGKILL);
  REQUIRE(wait_exit(10000));
}

void RedisServer::pause() {
  REQUIRE(pid_ > 0);
  REQUIRE(::kill(pid_, SIGSTOP) == 0);
}

void RedisServer::resume() {
  REQUIRE(pid_ > 0);
  REQUIRE(::kill(pid_, SIGCONT) == 0);
}

void RedisServer::restart() {
  if (pid_ > 0) stop();
  spawn();
}

std::string RedisServer::command(const std::vector<std::string>& argv, int timeout_ms) {
  const timeval timeout = timeval_of(timeout_ms);
  redisContext* c = redisConnectUnixWithTimeout(path_.c_str(), timeout);
  REQUIRE_MESSAGE((c && !c->err), "cannot reach redis-server on " << path_ << ": " << (c ? c->errstr : "no memory"));
  redisSetTimeout(c, timeout);
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (const std::string& a : argv) {
    pointers.push_back(a.c_str());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), pointers.data(), lengths.data()));
  const std::string error = c->errstr;
  redisFree(c);
  REQUIRE_MESSAGE(reply != nullptr, "no reply from redis-server: " << error);
  std::string text = text_of(*reply);
  freeReplyObject(reply);
  return text;
}

std::string RedisServer::log() const { return read_file(dir_ + "/output.log") + read_file(dir_ + "/redis.log"); }

}  // namespace parley::test
