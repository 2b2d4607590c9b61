// A real redis-server for one test: a child process in a fresh temporary
// directory, listening on a unix socket there and on a reserved TCP port of
// 127.0.0.1, saving nothing. Tests include it as "redis_server.hpp".
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.hpp"  // ReservedPort

namespace parley::test {

inline constexpr const char* redis_server_binary = "/usr/bin/redis-server";

class RedisServer {
 public:
  // Starts it and waits until it answers PING on its unix socket (polling,
  // within 10 s). REQUIREs that redis-server is installed and answers: a
  // missing program fails the test, it never skips it.
  RedisServer();
  // SIGKILL (SIGSTOPped or not), then the directory is removed.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const std::string& unix_path() const { return path_; }
  int port() const { return port_.port(); }
  std::string unix_url() const { return "redis+unix://" + path_; }
  std::string tcp_url(const std::string& host = "127.0.0.1") const {
    return "redis://" + host + ":" + std::to_string(port());
  }
  pid_t pid() const { return pid_; }

  void stop();     // SIGTERM, and waits for the exit (REQUIREs it within 10 s)
  void kill();     // SIGKILL, and waits
  void pause();    // SIGSTOP: connections stay open, nothing is answered
  void resume();   // SIGCONT
  // A new process on the same port and socket (stopped or killed first when
  // still running): empty, since nothing is saved.
  void restart();

  // One command over the unix socket with hiredis's blocking API, bounded
  // by `timeout_ms`: the reply as text, as redis-cli prints it without
  // quotes: a string or status as it is, an integer in decimal, "(nil)",
  // "(error) ..." and an array's elements one a line. REQUIREs a reply.
  std::string command(const std::vector<std::string>& argv, int timeout_ms = 5000);

  std::string log() const;  // its log file and anything it printed

 private:
  void spawn();
  void wait_ready();
  bool wait_exit(int timeout_ms);

  std::string dir_;
  std::string path_;
  ReservedPort port_;  // held while it runs and across restarts
  pid_t pid_ = -1;
};

}  // namespace parley::test
