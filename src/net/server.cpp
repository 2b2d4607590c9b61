#include "parley/net/server.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include "parley/protocol/encode.hpp"
#include "parley/log/log.hpp"
#include "parley_version.h"

namespace parley {
namespace {

// Rounds of close-then-flush per loop turn; more work waits for the next turn.
constexpr int max_prepare_rounds = 8;

std::string make_epoch_prefix() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::random_device random;
  char text[48];
  std::snprintf(text, sizeof text, "%llx%04x", static_cast<unsigned long long>(ms),
                static_cast<unsigned>(random() & 0xffff));
  return text;
}

ServerInfo server_info(const ServerConfig& config) {
  ServerInfo info;
  info.version = PARLEY_VERSION;
  info.epoch_prefix = make_epoch_prefix();
  info.auth_token = config.auth_token;
  return info;
}

void noop_idle(uv_idle_t*) {}

}  // namespace

Server::Server(uv_loop_t* loop, ServerConfig config)
    : loop_(loop), config_(std::move(config)), core_(config_.limits, server_info(config_)),
      read_buffer_(new char[read_buffer_size]) {
  uv_prepare_init(loop_, &prepare_);
  prepare_.data = this;
  uv_idle_init(loop_, &spin_);
  uv_signal_init(loop_, &sigterm_);
  uv_signal_init(loop_, &sigint_);
  sigterm_.data = this;
  sigint_.data = this;
}

int Server::start() {
  for (const Address& address : config_.listen) {
    auto listener = std::make_unique<Listener>(*this);
    std::string error;
    if (!listener->open(address, error)) {
      std::fprintf(stderr, "parleyd: cannot listen on %s: %s\n", address.text().c_str(),
                   error.c_str());
      listeners_.push_back(std::move(listener));
      for (auto& l : listeners_) l->close();
      return 1;
    }
    std::printf("listening on %s\n", listener->bound_address().c_str());
    std::fflush(stdout);
    log::info("listening on " + listener->bound_address());
    listeners_.push_back(std::move(listener));
  }
  uv_prepare_start(&prepare_, on_prepare);
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  log::info(std::string("parleyd ") + PARLEY_VERSION + " started");
  return 0;
}

void Server::accept(int fd, Connection::Transport transport, std::string peer) {
  const ConnId id = connections_.next_id();
  auto conn = std::make_unique<Connection>(*this, id, transport);
  Connection& c = *conn;
  connections_.put(std::move(conn));
  if (!c.adopt(fd)) {
    c.close_now("accept failed");
    return;
  }
  if (draining_) {
    c.start(false, std::move(peer));
    c.fatal(ErrorCode::shutting_down, "the server is shutting down");
    return;
  }
  if (clients_ >= config_.max_clients) {
    c.start(false, std::move(peer));
    c.fatal(ErrorCode::server_full,
            "the server has " + std::to_string(config_.max_clients) + " clients already");
    return;
  }
  ++clients_;
  c.counted = true;
  core_.connect(id);
  c.start(config_.proxy_protocol, std::move(peer));
  // Behind a proxy the real peer is known only once its header is read.
  if (!config_.proxy_protocol || c.transport() != Connection::Transport::tcp)
    log::write(LogLevel::info, connection_number(id), c.peer(), "connected");
}

void Server::handle_line(Connection& conn, std::string_view line) {
  const Outcome outcome = core_.handle(conn.id(), parse_request(line, config_.limits), wall_ms());
  dispatch(conn, outcome);
}

// The reply goes to the sender; each event is encoded once, into the open
// batch, whose bytes are later queued once for every recipient.
void Server::dispatch(Connection& from, const Outcome& outcome) {
  if (outcome.ack)
    from.send(encode_line(*outcome.ack), Outbox::Kind::reply);
  else if (!outcome.reply.is_null())
    from.send(encode_line(outcome.reply), Outbox::Kind::reply);
  for (const Delivery& delivery : outcome.deliveries) deliver(delivery);
  if (outcome.fatal) from.fatal(outcome.fatal->code, outcome.fatal->message);
  if (outcome.close) from.close_after_flush("quit");
}

void Server::deliver(const Delivery& delivery) {
  if (!batch_.accepts(delivery.to)) send_batch();
  batch_.add(delivery);
}

// Keeps each connection's output in the order it was produced: whatever is
// queued for a connection directly first lets the open batch (events made
// earlier) go out, unless the connection is the one the batch skips.
void Server::before_send(const Connection& conn) {
  if (batch_.open() && conn.id() != batch_.recipients().except) send_batch();
}

void Server::send_batch() {
  if (!batch_.open()) return;
  const auto [to, bytes] = batch_.take();
  for (ConnId id : *to.list) {
    if (id == to.except) continue;
    if (Connection* conn = connections_.find(id)) conn->enqueue(bytes, Outbox::Kind::event);
  }
}

// A connection with only replies queued is written after the ones with
// events, so a `say`'s deliveries do not wait behind its sender's reply (the
// sender, who has its answer one write later, is the only one to wait).
void Server::mark_dirty(Connection& conn, bool replies_only) {
  if (!conn.dirty) {
    conn.dirty = true;
    conn.replies_only = replies_only;
    (replies_only ? dirty_replies_ : dirty_).push_back(&conn);
  } else if (conn.replies_only && !replies_only) {
    conn.replies_only = false;
    dirty_.push_back(&conn);  // its entry in dirty_replies_ finds it clean
  }
}

// Counts the connection under its IP address once that is known: at accept,
// or behind --proxy-protocol once the header named the real client.
void Server::peer_known(Connection& conn) {
  if (config_.max_conns_per_ip == 0 || !conn.counted_ip.empty()) return;
  std::string ip = conn.peer_ip();
  if (ip.empty()) return;
  std::size_t& count = conns_per_ip_[ip];  // at least 1 when at the limit: no empty entry stays
  if (count >= config_.max_conns_per_ip) {
    conn.fatal(ErrorCode::server_full, "too many connections from " + ip + " (at most " +
                                           std::to_string(config_.max_conns_per_ip) + ")");
    return;
  }
  ++count;
  conn.counted_ip = std::move(ip);
}

void Server::connection_closing(Connection& conn, const std::string& reason) {
  log::write(LogLevel::info, connection_number(conn.id()), conn.peer(), "disconnected: " + reason);
  // The slots free as soon as the close is decided, not when the socket is gone.
  if (conn.counted) --clients_;
  conn.counted = false;
  if (!conn.counted_ip.empty()) {
    auto it = conns_per_ip_.find(conn.counted_ip);
    if (it != conns_per_ip_.end() && --it->second == 0) conns_per_ip_.erase(it);
    conn.counted_ip.clear();
  }
  closing_.emplace_back(conn.id(), reason);
}

void Server::release(Connection& conn) {
  if (conn.dirty) {
    std::erase(dirty_, &conn);
    std::erase(dirty_replies_, &conn);
  }
  connections_.erase(conn.id());
  maybe_exit();
}

// Runs right before the loop blocks: tell the Core about connections that
// closed (their `quit` events), then write everything queued this turn.
void Server::on_prepare(uv_prepare_t* handle) {
  Server& self = *static_cast<Server*>(handle->data);
  for (int round = 0; round < max_prepare_rounds; ++round) {
    if (self.closing_.empty() && !self.any_dirty() && !self.batch_.open()) break;
    self.reap_closing();
    self.send_batch();
    self.flush_dirty();
  }
  // Work left over: poll without blocking so the next turn comes at once.
  if (self.closing_.empty() && !self.any_dirty() && !self.batch_.open())
    uv_idle_stop(&self.spin_);
  else
    uv_idle_start(&self.spin_, noop_idle);
}

// Both lists are swapped with a second vector that keeps its capacity, so a
// busy loop turn allocates nothing here; what is added meanwhile waits for
// the next round.
void Server::reap_closing() {
  reaping_.swap(closing_);
  for (auto& [id, reason] : reaping_)
    for (const Delivery& d : core_.disconnect(id, reason).deliveries) deliver(d);
  reaping_.clear();
}

void Server::flush_dirty() {
  flushing_.swap(dirty_);
  flushing_replies_.swap(dirty_replies_);
  for (auto* list : {&flushing_, &flushing_replies_}) {
    for (Connection* conn : *list) {
      if (!conn->dirty) continue;  // already written from the first list
      conn->dirty = false;
      conn->flush();
    }
    list->clear();
  }
}

void Server::on_signal(uv_signal_t* handle, int signum) {
  static_cast<Server*>(handle->data)->drain(signum);
}

// Stop accepting, tell every client to reconnect elsewhere, flush, close.
// Each closing connection gets --drain-timeout to flush before it is cut.
void Server::drain(int signum) {
  if (draining_) {
    log::warn("second signal: closing every connection now");
    connections_.for_each([](Connection& conn) { conn.close_now("shutting_down"); });
    return;
  }
  draining_ = true;
  log::info(std::string("draining on ") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") + ", " +
            std::to_string(connections_.size()) + " connections");
  for (auto& listener : listeners_) listener->close();
  const Bytes shutdown = encode_shutdown("server shutting down", config_.shutdown_retry_ms);
  connections_.for_each([&](Connection& conn) {
    if (conn.state() != Connection::State::open) return;
    conn.send(shutdown, Outbox::Kind::reply);
    conn.fatal(ErrorCode::shutting_down, "the server is shutting down");
  });
  maybe_exit();
}

void Server::maybe_exit() {
  if (!draining_ || !connections_.empty()) return;
  log::info("drained, exiting");
  uv_prepare_stop(&prepare_);
  uv_idle_stop(&spin_);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&spin_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
}

std::int64_t Server::wall_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace parley
