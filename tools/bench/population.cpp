#include "population.hpp"

#include <unistd.h>

#include <stdexcept>

#include "proc_stats.hpp"
#include "spread.hpp"

namespace parley::bench {
namespace {

std::string default_tag() {
  // Nicks may not start with a digit; base 36 keeps them short.
  std::string tag = "b";
  for (auto pid = static_cast<unsigned>(getpid()); pid; pid /= 36) tag += "0123456789abcdefghijklmnopqrstuvwxyz"[pid % 36];
  return tag;
}

bool is_setup(Request r) { return r == Request::greet || r == Request::resume || r == Request::subscribe; }

// Set-up requests go out first, so once the oldest unanswered request is no
// set-up request, set-up is over.
bool setup_answered(const Conn& conn) { return conn.requests.empty() || !is_setup(conn.requests.front().what); }

}  // namespace

Population::Population(const Options& options, const Protocol& protocol, std::size_t count)
    : Loader(options, protocol), resume_sessions_(options.reconnect && protocol.resumes()),
      tag_(options.tag.empty() ? default_tag() : options.tag) {
  conns_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto conn = std::make_unique<Conn>();
    conn->id = static_cast<std::uint32_t>(i);
    conn->source = conn->id;
    conn->server = first_server(options.scenario, i, static_cast<std::size_t>(options.publishers), server_count());
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

void Population::set_ready(Conn& conn) {
  if (conn.ready) return;
  conn.ready = true;
  conn.was_ready = true;
  ++ready_;
}

// A connection that has a session resumes it; one that has none yet (it was
// lost before its first hello was answered) registers.
void Population::on_connected(Conn& conn) {
  if (resume_sessions_ && !conn.session.empty()) {
    protocol_.resume(conn.out, conn.nick, conn.session);
    expect(conn, {Request::resume});
  } else {
    protocol_.greet(conn.out, conn.nick);
    expect(conn, {Request::greet});
    subscriptions(conn);
  }
  queue(conn);
}

void Population::on_frame(Conn& conn, const Frame& frame) {
  if (frame.kind == FrameKind::server_ping) {
    protocol_.pong(conn.out);
    queue(conn);
    return;
  }
  if (frame.kind == FrameKind::quit) {
    ++correctness_.quit_events;
    return on_quit_event(conn, frame);
  }
  if (options_.reconnect && leaving(conn, frame)) return;
  if (frame.kind == FrameKind::fatal) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " got fatal error " + std::string(frame.detail));
    return;
  }
  if (frame.kind == FrameKind::ack || frame.kind == FrameKind::error_ack) {
    if (conn.requests.empty()) {
      ++correctness_.errors;
      correctness_.note(conn.nick + " got a reply to nothing it asked: " +
                        std::string(frame.line.empty() ? frame.detail : frame.line.substr(0, 80)));
      return;
    }
    const Pending request = conn.requests.front();
    conn.requests.pop_front();
    --conn.pending_acks;
    switch (request.what) {
      case Request::greet:
      case Request::subscribe: return on_setup_reply(conn, request, frame);
      case Request::resume: return on_resume_reply(conn, frame);
      default: return on_reply(conn, request, frame);
    }
  }
  if (!setting_up_) on_event(conn, frame);
}

void Population::on_setup_reply(Conn& conn, const Pending& request, const Frame& frame) {
  if (frame.kind == FrameKind::error_ack) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " could not set up: " + std::string(frame.detail));
    return;
  }
  if (request.what == Request::greet && resume_sessions_) {
    const Welcome welcome = parse_welcome(frame.line);
    if (!welcome.ok) {
      ++correctness_.errors;
      correctness_.note(conn.nick + ": unreadable hello reply: " + welcome.error);
      return;
    }
    conn.session = welcome.session;
  }
  if (request.what == Request::subscribe) on_subscribed(conn, frame);
  if (setup_answered(conn)) set_ready(conn);
}

void Population::on_resume_reply(Conn& conn, const Frame& frame) {
  const Welcome welcome = frame.kind == FrameKind::ack ? parse_welcome(frame.line)
                                                       : Welcome{false, std::string(frame.detail), {}, false, {}};
  if (!welcome.ok) {
    ++correctness_.errors;
    correctness_.note(conn.nick + " could not resume its session: " + welcome.error);
    return;
  }
  conn.session = welcome.session;
  if (!welcome.resumed) {
    ++not_resumed_;
    return on_not_resumed(conn);
  }
  ++resumed_;
  if (conn.was_ready) return on_resumed(conn, welcome);
  // Lost during its own set-up: make the subscriptions (again; joining twice
  // is a no-op that answers the same way).
  subscriptions(conn);
  queue(conn);
  if (setup_answered(conn)) set_ready(conn);
}

void Population::on_resumed(Conn& conn, const Welcome&) { set_ready(conn); }

void Population::on_not_resumed(Conn& conn) {
  subscriptions(conn);
  queue(conn);
  if (setup_answered(conn)) set_ready(conn);
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

void Population::end_connection(Conn& conn) {
  if (conn.ready) {
    conn.ready = false;
    --ready_;
  }
  if (!conn.requests.empty() && conn.requests.front().what == Request::resume) ++resumes_cut_;
  on_connection_ended(conn);
  conn.requests.clear();
  conn.pending_acks = 0;
}

void Population::on_closed(Conn& conn, std::string_view why) {
  if (options_.reconnect) {
    end_connection(conn);
    if (!conn.told_to_leave) reconnect_later(conn, lost_connection_retry_ms, false);
    return;
  }
  ++correctness_.disconnects;
  correctness_.note(conn.nick + " disconnected: " + std::string(why));
}

void Population::on_reconnect_due(Conn& conn) {
  end_connection(conn);
  Loader::on_reconnect_due(conn);
}

void Population::report_reconnects(Result& r) const {
  r.reconnect = options_.reconnect;
  r.reconnects_after_shutdown = reconnects_after_shutdown_;
  r.reconnects_after_loss = reconnects_after_loss_;
  r.resumed = resumed_;
  r.not_resumed = not_resumed_;
  r.resumes_cut = resumes_cut_;
}

}  // namespace parley::bench
