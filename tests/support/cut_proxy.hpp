// A forwarder the test can cut: clients connect to its Unix socket, and each
// connection is relayed to `target` (parleyd). cut() closes every relayed
// connection at both ends, so the client sees a lost connection and the
// server sees a drop (and holds the session), and then refuses new
// connections (accepts and closes them at once) until restore(). It runs on
// a thread of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace parley::test {

class CutProxy {
 public:
  CutProxy(std::string target, std::string_view name);
  ~CutProxy();
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  std::string address() const { return "unix:" + path_; }
  // Returns once every relayed connection is closed.
  void cut();
  void restore();
  // Bytes relayed from clients to the target so far, across connections:
  // tests that stop the target (SIGSTOP) can await what its socket buffers
  // take meanwhile.
  std::uint64_t bytes_to_target() const { return to_target_.load(); }

 private:
  void run();
  void command(int code);

  std::string target_;
  std::string path_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::condition_variable done_;
  int handled_ = 0;  // commands carried out, under mutex_
  std::atomic<std::uint64_t> to_target_{0};
  std::thread thread_;
};

}  // namespace parley::test
