#include "parley/admin/admin_session.hpp"

#include <algorithm>
#include <memory>

#include "parley/admin/admin_server.hpp"
#include "parley/admin/response.hpp"

namespace parley {
namespace {

// An answer still unwritten past this stops the reading of further requests.
constexpr std::size_t max_unwritten = 1 << 20;

}  // namespace

AdminSession::AdminSession(AdminServer& server, TransportKind transport, std::string peer)
    : server_(server), peer_(std::move(peer)), stream_(server.loop(), transport, *this),
      reader_(HttpRequestLimits{server.options().max_header_bytes, HttpRequestLimits{}.max_target_bytes}) {}

bool AdminSession::start(int fd) {
  if (!stream_.adopt(fd) || !stream_.start_reading()) return false;
  stream_.start_timer(server_.options().timeout_ms);
  return true;
}

ReadBuffer& AdminSession::read_buffer() { return server_.read_buffer(); }

void AdminSession::on_stream_data(std::string_view data) {
  if (closing_) return;
  if (!held_.empty()) {
    held_.append(data);
    return;
  }
  consume(data);
}

// Reads and answers requests until the data runs out, an answer backs up,
// or the connection is to close.
void AdminSession::consume(std::string_view data) {
  while (!data.empty() && !closing_) {
    if (stream_.outbox().bytes() > max_unwritten) {
      held_.assign(data);  // at most one read's worth: reading stops below
      stream_.stop_reading();
      return;
    }
    const HttpRequestReader::Result result = reader_.feed(data);
    data.remove_prefix(std::min(result.used, data.size()));
    if (result.status == HttpRequestReader::Status::need_more) return;
    respond(result.status == HttpRequestReader::Status::error ? result.http_status : 0);
  }
}

void AdminSession::respond(int error_status) {
  HttpResponse response;
  bool keep_alive = false;
  bool head = false;
  if (error_status) {
    response.status = error_status;
    response.body = std::string(reason_phrase(error_status)) + "\n";
  } else {
    const HttpRequest& request = reader_.request();
    response = server_.answer(request.method, request.target);
    keep_alive = request.keep_alive;
    head = request.method == "HEAD";
  }
  stream_.outbox().push(std::make_shared<const std::string>(serialize(response, head, keep_alive)),
                        OutputKind::reply);
  if (keep_alive) {
    reader_.reset();
    stream_.start_timer(server_.options().timeout_ms);  // the next request's deadline
  } else {
    closing_ = true;
    stream_.stop_reading();
  }
  write();
}

void AdminSession::write() {
  if (!stream_.write_queued()) return stream_.close();
  finish_if_done();
}

void AdminSession::finish_if_done() {
  if (closing_ && stream_.outbox().empty() && !stream_.write_in_flight()) stream_.close();
}

void AdminSession::on_stream_written() {
  write();
  if (stream_.closed() || closing_ || held_.empty() || stream_.outbox().bytes() > max_unwritten) return;
  const std::string held = std::move(held_);
  held_.clear();
  consume(held);
  if (!closing_ && held_.empty()) stream_.start_reading();
}

void AdminSession::on_stream_eof() {
  closing_ = true;  // answer what was asked, then close
  stream_.stop_reading();
  finish_if_done();
}

void AdminSession::on_stream_timer() {
  if (stream_.outbox().empty()) {
    HttpResponse late{408, "text/plain; charset=utf-8", "Request Timeout\n", {}};
    stream_.write_farewell(std::make_shared<const std::string>(serialize(late, false, false)));
  }
  stream_.close();
}

void AdminSession::on_stream_closed() {
  server_.release(*this);  // destroys this: nothing may follow
}

}  // namespace parley
