#include "parley/admin/admin_server.hpp"

#include <unistd.h>

#include <algorithm>

#include "parley/admin/admin_session.hpp"
#include "parley/log/log.hpp"

namespace parley {

AdminServer::AdminServer(uv_loop_t* loop, ReadBuffer& read_buffer, const Hub& hub, AdminOptions options,
                         std::function<std::string()> metrics)
    : loop_(loop), read_buffer_(read_buffer), hub_(hub), options_(std::move(options)),
      metrics_(std::move(metrics)) {
  uv_idle_init(loop_, &idle_);  // cannot fail: it allocates nothing
  idle_.data = this;
}

AdminServer::~AdminServer() = default;

bool AdminServer::open(std::string& error) {
  // Never a PROXY header here: the spec carries the address alone.
  listener_ = std::make_unique<Listener>(loop_, [this](int fd, TransportKind transport, std::string peer,
                                                       const ListenSpec&) { accept(fd, transport, std::move(peer)); });
  return options_.fd >= 0 ? listener_->adopt(options_.fd, false, error)
                          : listener_->open(ListenSpec{options_.address}, error);
}

std::string AdminServer::bound_address() const { return listener_ ? listener_->bound_address() : std::string(); }

void AdminServer::accept(int fd, TransportKind transport, std::string peer) {
  if (closed_ || sessions_.size() >= options_.max_connections) {
    // Refused without a word: the bound protects the chat, and a client that
    // holds every admin slot is the thing it guards against.
    ::close(fd);
    if (refused_++ % 1000 == 0)
      log::warn("admin: refusing connections past --admin-max-conns " + std::to_string(options_.max_connections));
    return;
  }
  sessions_.push_back(std::make_unique<AdminSession>(*this, transport, std::move(peer)));
  if (!sessions_.back()->start(fd)) sessions_.back()->close();
}

HttpResponse AdminServer::answer(std::string_view method, std::string_view target) const {
  return route(method, target, AdminState{hub_, hub_.clock().wall_ms(), metrics_});
}

void AdminServer::defer(AdminSession& session) {
  if (closed_ || std::find(deferred_.begin(), deferred_.end(), &session) != deferred_.end()) return;
  deferred_.push_back(&session);
  uv_idle_start(&idle_, on_idle);  // cannot fail with a callback
}

void AdminServer::on_idle(uv_idle_t* idle) {
  AdminServer& self = *static_cast<AdminServer*>(idle->data);
  std::vector<AdminSession*> now;
  now.swap(self.deferred_);
  for (AdminSession* session : now) session->resume();  // may defer itself again
  if (self.deferred_.empty()) uv_idle_stop(&self.idle_);
}

void AdminServer::release(AdminSession& session) {
  std::erase(deferred_, &session);
  auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const auto& s) { return s.get() == &session; });
  if (it != sessions_.end()) sessions_.erase(it);
}

void AdminServer::close() {
  if (closed_) return;
  closed_ = true;
  deferred_.clear();
  uv_idle_stop(&idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  if (listener_) listener_->close();
  for (auto& session : sessions_) session->close();
}

}  // namespace parley
