// A listening socket: TCP (IPv4 or IPv6) or a Unix socket path.
#pragma once

#include <uv.h>

#include <string>

#include "parley/address.hpp"
#include "parley/connection.hpp"

namespace parley {

class Server;

class Listener {
 public:
  explicit Listener(Server& server) : server_(server) {}
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Binds and listens. On failure returns false with `error` set.
  bool open(const Address& address, std::string& error);

  // The address actually bound (port 0 resolved), as a user would write it.
  std::string bound_address() const;

  // Stops accepting; removes the Unix socket file. The object must outlive the
  // close callback, so it is freed only when the loop has finished.
  void close();

 private:
  static void on_connection(uv_stream_t* stream, int status);
  bool open_tcp(const Address& address, std::string& error);
  bool open_unix(const Address& address, std::string& error);
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }

  Server& server_;
  Connection::Transport transport_ = Connection::Transport::tcp;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  std::string unix_path_;
  bool opened_ = false;
  bool closed_ = false;
  std::uint64_t last_accept_error_log_ = 0;
};

}  // namespace parley
