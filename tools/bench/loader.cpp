#include "loader.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "options.hpp"
#include "parley/socket/address.hpp"
#include "proc_stats.hpp"
#include "spread.hpp"

namespace parley::bench {
namespace {

// Frames larger than this cannot be parsed (no server sends them to a loader).
constexpr std::size_t read_buffer_size = 1 << 20;
constexpr int max_events = 512;

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

Endpoint resolve_server(const std::string& text) {
  std::string error;
  const auto address = parse_address(text, error);
  if (!address) throw std::runtime_error("--server: " + error);
  const std::vector<Endpoint> endpoints = resolve(*address, error);
  if (endpoints.empty()) throw std::runtime_error("--server: " + error);
  return endpoints.front();
}

bool is_loopback_v4(const Endpoint& endpoint) {
  if (endpoint.family() != AF_INET) return false;
  const auto* in = reinterpret_cast<const sockaddr_in*>(&endpoint.storage);
  return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
}

std::uint64_t jittered_ms(std::uint64_t delay_ms, std::mt19937_64& random) {
  if (delay_ms == 0) return 0;
  return delay_ms / 2 + std::uniform_int_distribution<std::uint64_t>(0, delay_ms - 1)(random);
}

std::uint64_t raise_fd_limit(std::uint64_t wanted) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= wanted) return limit.rlim_cur;
  if (limit.rlim_max < wanted) {
    rlimit raised{wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return wanted;  // allowed as root
  }
  limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

Loader::Loader(const Options& options, const Protocol& protocol)
    : options_(options), protocol_(protocol), read_buffer_(read_buffer_size) {
  for (const std::string& server : options.servers) {
    endpoints_.push_back(resolve_server(server));
    spread_sources_.push_back(is_loopback_v4(endpoints_.back()));
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0) throw system_error("epoll/timerfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the timer
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
  source_addrs_ = std::max(1, options.source_addrs);
}

Loader::~Loader() {
  ::close(timer_fd_);
  ::close(epoll_fd_);
}

// Ephemeral ports run out near 28,000 connections per (source, destination)
// pair; on loopback every 127.0.0.x is ours, so spreading the sources
// multiplies the ports. IP_BIND_ADDRESS_NO_PORT leaves the port choice to
// connect(), which can then reuse ports across destinations.
void Loader::bind_source(int fd, std::uint32_t id) {
  if (source_addrs_ <= 1) return;
  int on = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(0x7f000001u + id % static_cast<std::uint32_t>(source_addrs_));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) throw system_error("bind source");
}

// The greeting is queued at once rather than after the connect completes:
// on loopback the handshake is done by the time connect() returns, and
// elsewhere the first write fails with EAGAIN and waits for EPOLLOUT like any
// other. That saves the connect scenario a getsockopt and two epoll_ctl
// calls per cycle, which would otherwise make the loader its bottleneck.
void Loader::open(Conn& conn) {
  if (conn.server >= endpoints_.size()) conn.server = 0;
  const Endpoint& endpoint = endpoints_[conn.server];
  conn.fd = open_socket(endpoint, SOCK_NONBLOCK, nodelay_);
  if (conn.fd < 0) throw system_error("socket");
  conn.closed = false;
  conn.pending_acks = 0;
  conn.requests.clear();
  conn.out.clear();
  conn.out_sent = 0;
  conn.partial.clear();
  if (spread_sources_[conn.server]) bind_source(conn.fd, conn.source);
  if (!start_connect(conn.fd, endpoint)) {
    // A server that is not there (yet) is what --reconnect rides out.
    if (!options_.reconnect) throw system_error("connect " + options_.servers[conn.server]);
    const std::string why = std::strerror(errno);
    close(conn);
    on_closed(conn, why);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &conn;
  conn.want_writable = false;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn.fd, &ev) != 0) throw system_error("epoll_ctl");
  conn.opening = protocol_.opening(conn.out, options_.servers[conn.server]);
  if (conn.opening) queue(conn);
  else on_connected(conn);
}

// close() also takes the descriptor out of the epoll set (no other copy of
// it exists), so no epoll_ctl call is needed.
void Loader::close(Conn& conn) {
  if (conn.fd < 0) return;
  ::close(conn.fd);
  conn.fd = -1;
  conn.closed = true;
}

void Loader::queue(Conn& conn) {
  if (conn.dirty || conn.fd < 0) return;
  conn.dirty = true;
  dirty_.push_back(&conn);
}

void Loader::reconnect_later(Conn& conn, std::uint64_t delay_ms, bool announced) {
  if (conn.reconnect_at != 0) return;
  ++(announced ? reconnects_after_shutdown_ : reconnects_after_loss_);
  // Never 0: 0 means "not scheduled", and the due entry must lie after the
  // turn that scheduled it.
  conn.reconnect_at = monotonic_ns() + jittered_ms(delay_ms, random_) * 1'000'000ULL + 1;
  due_.emplace(conn.reconnect_at, &conn);
}

void Loader::on_reconnect_due(Conn& conn) {
  close(conn);
  conn.server = next_server(conn.server, endpoints_.size());
  open(conn);
}

// Entries scheduled while these run lie after `now_ns`, so the loop ends.
void Loader::run_due_reconnects(std::uint64_t now_ns) {
  while (!due_.empty() && due_.top().first <= now_ns) {
    Conn& conn = *due_.top().second;
    due_.pop();
    conn.reconnect_at = 0;
    conn.told_to_leave = false;
    on_reconnect_due(conn);
  }
}

void Loader::set_writable_interest(Conn& conn, bool on) {
  if (conn.want_writable == on || conn.fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &conn;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev);
  conn.want_writable = on;
}

void Loader::flush(Conn& conn) {
  while (conn.fd >= 0 && conn.out_sent < conn.out.size()) {
    const ssize_t n = ::write(conn.fd, conn.out.data() + conn.out_sent, conn.out.size() - conn.out_sent);
    if (n > 0) {
      conn.out_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_writable_interest(conn, true);
      return;
    }
    const std::string why = std::strerror(errno);
    close(conn);
    on_closed(conn, why);
    return;
  }
  conn.out.clear();
  conn.out_sent = 0;
  set_writable_interest(conn, false);
}


// The read buffer is shared by every connection: a connection only keeps
// the bytes of a frame cut in half by a read, which it copies back to the
// front of the buffer before the next read.
void Loader::on_readable(Conn& conn) {
  const std::size_t carried = conn.partial.size();
  std::memcpy(read_buffer_.data(), conn.partial.data(), carried);
  const ssize_t n = ::read(conn.fd, read_buffer_.data() + carried, read_buffer_.size() - carried);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    const std::string why = n == 0 ? "closed by server" : std::strerror(errno);
    close(conn);
    on_closed(conn, why);
    return;
  }
  read_time_ns_ = monotonic_ns();
  std::string_view data(read_buffer_.data(), carried + static_cast<std::size_t>(n));
  Frame frame;
  in_read_ = true;
  struct EndOfRead {
    bool& flag;
    ~EndOfRead() { flag = false; }
  } end_of_read{in_read_};
  while (!data.empty() && !conn.closed) {
    std::size_t used = 0;
    try {
      used = protocol_.next(data, frame);
    } catch (const std::exception& e) {
      ++protocol_errors_;
      close(conn);
      on_closed(conn, e.what());
      return;
    }
    if (used == 0) break;
    data.remove_prefix(used);
    if (frame.kind >= FrameKind::transport_ready) {  // the last kinds: the transport's own
      if (!on_transport_frame(conn, frame)) return;
      continue;
    }
    on_frame(conn, frame);
  }
  if (conn.closed) return;
  if (data.size() == read_buffer_.size()) {
    ++protocol_errors_;
    close(conn);
    on_closed(conn, "frame larger than the read buffer");
    return;
  }
  conn.partial.assign(data);
}

bool Loader::on_transport_frame(Conn& conn, const Frame& frame) {
  switch (frame.kind) {
    case FrameKind::transport_ready:
      if (conn.opening) {
        conn.opening = false;
        on_connected(conn);
      }
      return !conn.closed;
    case FrameKind::transport_call:
      protocol_.transport_answer(conn.out, frame);
      queue(conn);
      return true;
    default:  // transport_close: as if the server had closed TCP, which it does next
      close(conn);
      on_closed(conn, "closed by server");
      return false;
  }
}

void Loader::wait_until(std::uint64_t deadline_ns) {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000ULL);
  spec.it_value.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000ULL);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

// Writes every queued output buffer. Flushing may close a connection, whose
// callback may queue others: they are appended and flushed in this pass.
void Loader::flush_queued() {
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    dirty_[i]->dirty = false;
    flush(*dirty_[i]);
  }
  dirty_.clear();
}

std::uint64_t Loader::turn(std::uint64_t deadline_ns) {
  flush_queued();  // what was queued between turns must not wait for I/O
  epoll_event events[max_events];
  const std::uint64_t now = monotonic_ns();
  if (!due_.empty()) deadline_ns = std::min(deadline_ns, due_.top().first);
  int timeout_ms = 0;
  if (deadline_ns > now) {
    wait_until(deadline_ns);
    timeout_ms = -1;
  }
  const int n = epoll_wait(epoll_fd_, events, max_events, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto* conn = static_cast<Conn*>(events[i].data.ptr);
    if (!conn) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] auto r = ::read(timer_fd_, &expirations, sizeof expirations);
      continue;
    }
    if (conn->fd < 0) continue;
    if (events[i].events & EPOLLOUT && conn->want_writable) flush(*conn);
    if (conn->fd >= 0 && events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(*conn);
  }
  const std::uint64_t after = monotonic_ns();
  run_due_reconnects(after);
  on_turn(after);
  flush_queued();
  return after;
}

}  // namespace parley::bench
