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
  if (lingering_) return;  // after an error: read and drop until the client closes
  if (closing_) return;
  if (!held_.empty()) {
    held_.append(data);  // bounded: reading is stopped while anything is held
    stream_.stop_reading();
    return;
  }
  consume(data);
}

// Reads and answers requests until the data runs out, the connection is to
// close, an answer backs up, or this turn's share of answers is used: the
// rest is held and answered on a later turn, so a client pipelining
// thousands of requests in one read cannot hold the loop.
void AdminSession::consume(std::string_view data) {
  std::size_t answered = 0;
  while (!data.empty() && !closing_ && !stream_.closed()) {
    if (stream_.outbox().bytes() > max_unwritten || answered == max_answers_per_turn) {
      hold(data);
      if (answered == max_answers_per_turn) server_.defer(*this);
      return;
    }
    const HttpRequestReader::Result result = reader_.feed(data);
    data.remove_prefix(std::min(result.used, data.size()));
    bytes_since_answer_ += result.used;
    if (result.status == HttpRequestReader::Status::need_more) return;
    respond(result.status == HttpRequestReader::Status::error ? result.http_status : 0);
    ++answered;
  }
}

void AdminSession::hold(std::string_view data) {
  held_.assign(data);  // at most one read's worth
  stream_.stop_reading();
}

void AdminSession::resume() {
  if (closing_ || stream_.closed() || held_.empty()) return;
  const std::string held = std::move(held_);
  held_.clear();
  consume(held);
  if (!closing_ && !stream_.closed() && held_.empty() && !stream_.start_reading()) stream_.close();
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
  bytes_since_answer_ = 0;
  // The next request's deadline, or the time left to write the last answer.
  stream_.start_timer(server_.options().timeout_ms);
  if (keep_alive) {
    reader_.reset();
  } else if (error_status) {
    // Closing now, with the client's bytes unread, would make the kernel send
    // a reset that can destroy the answer before it is read. Read and drop
    // instead until the client closes, or the timer runs out.
    closing_ = lingering_ = true;
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
  if (closing_ && !lingering_ && stream_.outbox().empty() && !stream_.write_in_flight()) stream_.close();
}

void AdminSession::on_stream_written() {
  write();
  if (!stream_.closed() && stream_.outbox().bytes() <= max_unwritten) resume();
}

void AdminSession::on_stream_eof() {
  if (lingering_) return stream_.close();
  closing_ = true;  // answer what was asked, then close
  stream_.stop_reading();
  finish_if_done();
}

// The request did not come in time (a client trickling bytes gets 408; an
// idle keep-alive connection is closed without a word, since a request
// racing the 408 would read it as its answer), or the last answer could not
// be written in time, or a lingering close is over.
void AdminSession::on_stream_timer() {
  if (!closing_ && bytes_since_answer_ > 0 && stream_.outbox().empty()) {
    HttpResponse late{408, "text/plain; charset=utf-8", "Request Timeout\n", {}};
    stream_.write_farewell(std::make_shared<const std::string>(serialize(late, false, false)));
  }
  stream_.close();
}

void AdminSession::on_stream_closed() {
  server_.release(*this);  // destroys this: nothing may follow
}

}  // namespace parley
