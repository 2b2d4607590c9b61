// The admin listener (`--admin HOST:PORT`, or a socket systemd passed):
// HTTP/1.1 on the chat server's loop, GET and HEAD only, keep-alive, never
// a PROXY header. Bounded: at most `max_connections` at once (more are
// closed at accept), request line and headers at most `max_header_bytes`,
// each request due within `timeout_ms` of the connection's last answer (a
// client trickling bytes is cut), and a response is not read past while the
// last is unwritten.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/admin/endpoints.hpp"
#include "parley/hub/hub.hpp"
#include "parley/net/listener.hpp"
#include "parley/net/read_buffer.hpp"
#include "parley/socket/address.hpp"

namespace parley {

struct AdminOptions {
  Address address;
  int fd = -1;  // a listening socket systemd passed (named admin): taken over instead of binding `address`
  std::size_t max_connections = 16;
  std::size_t max_header_bytes = 8192;
  std::uint64_t timeout_ms = 10000;
};

class AdminSession;

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, ReadBuffer& read_buffer, const Hub& hub, AdminOptions options,
              std::function<std::string()> metrics);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens (or takes over `fd`); false with `error` set.
  bool open(std::string& error);
  std::string bound_address() const;
  // Stops listening and closes every admin connection (the last thing a
  // drained server does: /readyz answers 503 until then).
  void close();

  // For sessions.
  uv_loop_t* loop() const { return loop_; }
  ReadBuffer& read_buffer() { return read_buffer_; }
  const AdminOptions& options() const { return options_; }
  HttpResponse answer(std::string_view method, std::string_view target) const;
  // Its stream is closed: free it. Only from its last close callback.
  void release(AdminSession& session);
  // The session has requests held back: resume() it on the next loop turn.
  void defer(AdminSession& session);

 private:
  static void on_idle(uv_idle_t* idle);
  void accept(int fd, TransportKind transport, std::string peer);

  uv_loop_t* loop_;
  ReadBuffer& read_buffer_;
  const Hub& hub_;
  AdminOptions options_;
  std::function<std::string()> metrics_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<AdminSession>> sessions_;
  std::vector<AdminSession*> deferred_;  // to resume next turn
  uv_idle_t idle_;                       // runs the deferred ones; active only while there are some
  std::uint64_t refused_ = 0;
  bool closed_ = false;
};

}  // namespace parley
