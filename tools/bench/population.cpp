#include "population.hpp"

#include <unistd.h>

#include <stdexcept>

#include "proc_stats.hpp"

namespace parley::bench {
namespace {

std::string default_tag() {
  // Nicks may not start with a digit; base 36 keeps them short.
  std::string tag = "b";
  for (auto pid = static_cast<unsigned>(getpid()); pid; pid /= 36) tag += "0123456789abcdefghijklmnopqrstuvwxyz"[pid % 36];
  return tag;
}

}  // namespace

Population::Population(const Options& options, const Protocol& protocol, std::size_t count)
    : Loader(options, protocol), tag_(options.tag.empty() ? default_tag() : options.tag) {
  conns_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto conn = std::make_unique<Conn>();
    conn->id = static_cast<std::uint32_t>(i);
    conn->source = conn->id;
    conn->nick = nick_of(i);
    conns_.push_back(std::move(conn));
  }
}

std::string Population::nick_of(std::size_t i) const { return tag_ + "_" + std::to_string(i); }
std::string Population::channel_of(std::size_t group) const { return tag_ + "-" + std::to_string(group); }

void Population::set_up() {
  const std::uint64_t deadline =
      monotonic_ns() + static_cast<std::uint64_t>(options_.setup_timeout_s * 1e9);
  const auto concurrency = static_cast<std::size_t>(options_.connect_concurrency);
  while (ready_ < conns_.size()) {
    while (opened_ < conns_.size() && opened_ - ready_ < concurrency) open(*conns_[opened_++]);
    const std::uint64_t now = turn(std::min(deadline, monotonic_ns() + 100'000'000));
    if (!correctness_.clean_so_far())
      throw std::runtime_error("setting up connections failed: " + correctness_.first_problem);
    if (now >= deadline)
      throw std::runtime_error("only " + std::to_string(ready_) + " of " + std::to_string(conns_.size()) +
                               " connections were ready after --setup-timeout");
  }
  setting_up_ = false;
}

void Population::on_connected(Conn& conn) {
  protocol_.greet(conn.out, conn.nick);
  conn.pending_acks = 1;
  subscriptions(conn);  // counts its own acks
  queue(conn);
}

void Population::on_frame(Conn& conn, const Frame& frame) {
  if (frame.kind == FrameKind::server_ping) {
    protocol_.pong(conn.out);
    queue(conn);
    return;
  }
  if (options_.reconnect && leaving(conn, frame)) return;
  if (frame.kind == FrameKind::fatal) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " got fatal error " + std::string(frame.detail));
    return;
  }
  if (!setting_up_) return on_traffic_frame(conn, frame);
  if (frame.kind == FrameKind::error_ack) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " could not set up: " + std::string(frame.detail));
    return;
  }
  if (frame.kind == FrameKind::ack && --conn.pending_acks == 0 && !conn.ready) {
    conn.ready = true;
    ++ready_;
  }
}

// The connection stays in use until its reconnect is due (the default
// on_reconnect_due closes it then), unless the server closes it first.
bool Population::leaving(Conn& conn, const Frame& frame) {
  if (frame.kind == FrameKind::shutdown) {
    conn.told_to_leave = true;
    reconnect_later(conn, frame.retry_ms, true);
    return true;
  }
  if (frame.kind == FrameKind::fatal && frame.detail == "shutting_down") {
    conn.told_to_leave = true;
    reconnect_later(conn, lost_connection_retry_ms, true);  // does nothing after a `shutdown`
    return true;
  }
  return false;
}

void Population::on_closed(Conn& conn, std::string_view why) {
  if (options_.reconnect) {
    if (conn.ready) {
      conn.ready = false;
      --ready_;
    }
    conn.pending_acks = 0;
    if (!conn.told_to_leave) reconnect_later(conn, lost_connection_retry_ms, false);
    return;
  }
  ++correctness_.disconnects;
  correctness_.note(conn.nick + " disconnected: " + std::string(why));
}

void Population::on_reconnect_due(Conn& conn) {
  if (conn.ready) {
    conn.ready = false;
    --ready_;
  }
  Loader::on_reconnect_due(conn);
}

}  // namespace parley::bench
