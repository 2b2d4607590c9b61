// One admin HTTP connection: requests read with HttpRequestReader, each
// answered at once (the endpoints are plain functions of the hub's state),
// pipelined requests answered in order.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>

#include "parley/admin/http_request.hpp"
#include "parley/net/stream.hpp"

namespace parley {

class AdminServer;

class AdminSession final : private Stream::Owner {
 public:
  AdminSession(AdminServer& server, TransportKind transport, std::string peer);
  // Answers per session per loop turn; more pipelined requests wait a turn.
  static constexpr std::size_t max_answers_per_turn = 4;

  bool start(int fd);  // false: the descriptor was refused (and closed); close() it
  void close() { stream_.close(); }
  // Answers requests held back on an earlier turn (AdminServer's idle pass).
  void resume();

 private:
  // Stream::Owner
  void on_stream_data(std::string_view data) override;
  void on_stream_eof() override;
  void on_stream_error(CloseReason) override { stream_.close(); }
  void on_stream_timer() override;  // the request did not come in time
  void on_stream_written() override;
  void on_stream_closed() override;
  ReadBuffer& read_buffer() override;

  void consume(std::string_view data);
  void hold(std::string_view data);
  void respond(int status_if_error);
  void write();
  void finish_if_done();

  AdminServer& server_;
  std::string peer_;
  Stream stream_;
  HttpRequestReader reader_;
  std::string held_;                 // bytes of requests not answered yet (reading is paused)
  std::size_t bytes_since_answer_ = 0;  // of the request being read
  bool closing_ = false;             // close once the outbox is written
  bool lingering_ = false;           // after an error: drop input until the client closes
};

}  // namespace parley
