#include "cut_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "parley/socket/address.hpp"

namespace parley::test {
namespace {

enum Command : char { cmd_cut = 'c', cmd_restore = 'r', cmd_stop = 's' };

// Moves what `from` has to `to`, adding what it moved to `moved`; false at
// EOF or an error on either side.
bool relay(int from, int to, std::atomic<std::uint64_t>* moved = nullptr) {
  char chunk[65536];
  const ssize_t n = recv(from, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    const ssize_t m = send(to, chunk + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
    if (m <= 0) return false;
    sent += m;
    if (moved) *moved += static_cast<std::uint64_t>(m);
  }
  return true;
}

}  // namespace

CutProxy::CutProxy(std::string target, std::string_view name)
    : target_(std::move(target)), path_(temp_socket_path(name)) {
  std::string error;
  unlink(path_.c_str());
  listener_ = parley::bind_to(*parley::parse_address(address(), error), SOCK_NONBLOCK, error);
  REQUIRE_MESSAGE(listener_ >= 0, error);
  REQUIRE(listen(listener_, 16) == 0);
  REQUIRE(pipe(wake_) == 0);
  thread_ = std::thread([this] { run(); });
}

CutProxy::~CutProxy() {
  command(cmd_stop);
  thread_.join();
  close(listener_);
  close(wake_[0]);
  close(wake_[1]);
  unlink(path_.c_str());
}

void CutProxy::cut() { command(cmd_cut); }
void CutProxy::restore() { command(cmd_restore); }

void CutProxy::command(int code) {
  std::unique_lock lock(mutex_);
  const int wanted = handled_ + 1;
  const char c = static_cast<char>(code);
  REQUIRE(write(wake_[1], &c, 1) == 1);
  REQUIRE(done_.wait_for(lock, std::chrono::seconds(5), [&] { return handled_ >= wanted; }));
}

void CutProxy::run() {
  std::vector<std::pair<int, int>> pairs;  // client, server
  bool refusing = false;
  auto close_all = [&] {
    for (auto [c, s] : pairs) close(c), close(s);
    pairs.clear();
  };
  for (;;) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    for (auto [c, s] : pairs) fds.insert(fds.end(), {{c, POLLIN, 0}, {s, POLLIN, 0}});
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) {
      char c = 0;
      if (read(wake_[0], &c, 1) != 1) continue;
      if (c == cmd_cut || c == cmd_stop) close_all();
      refusing = c == cmd_cut;
      {
        std::lock_guard lock(mutex_);
        ++handled_;
      }
      done_.notify_all();
      if (c == cmd_stop) return;
      continue;
    }
    std::vector<std::pair<int, int>> kept;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto [c, s] = pairs[i];
      const bool ok =
          (!fds[2 + 2 * i].revents || relay(c, s, &to_target_)) && (!fds[3 + 2 * i].revents || relay(s, c));
      if (ok) kept.push_back(pairs[i]);
      else close(c), close(s);
    }
    pairs = std::move(kept);
    if (fds[1].revents) {
      const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = refusing ? -1 : connect_socket(target_);
      if (server < 0) close(client);
      else pairs.emplace_back(client, server);
    }
  }
}

}  // namespace parley::test
