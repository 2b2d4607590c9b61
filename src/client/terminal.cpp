// Typed lines become requests one at a time (each waits for its reply, so a
// script piped in behaves exactly like a person typing); events print as they
// come. With stdin not a terminal it exits once the last command is answered.
//
// Reconnecting (docs/client.md): after `shutdown` the client leaves by itself
// once the retry_ms it was told has passed (plus its own jitter); after a lost
// connection it waits 0.1-0.5 s; failed attempts back off from 0.5 s to 30 s.
// It never sends `quit` on the way out, so the server holds the session, and
// comes back with `hello` {nick, resume}. Until it is back (and caught up),
// typed lines wait in a bounded queue.
#include "parley/client/terminal.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "parley/client/backoff.hpp"
#include "parley/client/catchup.hpp"
#include "parley/client/client.hpp"
#include "parley/client/connect.hpp"
#include "parley/client/fields.hpp"
#include "parley/client/marks.hpp"
#include "parley/protocol/framer.hpp"

namespace parley::client {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds on one line: past them the client gives up rather than buffer
// without end. A server with the default limits sends nothing longer than a
// full history page, under 13 MiB even if every byte of 500 texts of 4096
// bytes had to be escaped as \u00XX; a typed line becomes one request.
constexpr std::size_t max_server_line = 16 << 20;
constexpr std::size_t max_typed_line = 1 << 20;
// Lines typed while disconnected that wait for the reconnect; more are
// refused with a message.
constexpr std::size_t max_queued_lines = 100;
constexpr std::size_t max_queued_bytes = 256 << 10;
constexpr int connect_timeout_ms = 10000;

void out(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

double random_unit() {
  static std::mt19937 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

class Terminal {
 public:
  Terminal(const Options& options, int fd) : options_(options), fd_(fd) { session_.nick = options.nick; }
  ~Terminal() {
    if (fd_ >= 0) close(fd_);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  int run() {
    send_hello();
    for (;;) {
      if (broken_) lost_connection();
      feed_typed_lines();
      if (done_) return status_;
      if (reconnect_at_ && Clock::now() >= *reconnect_at_) {
        reconnect();
        continue;
      }
      const bool want_stdin = stdin_open_ && !quitting_ && (online() ? pending_.empty() : registered_once_);
      pollfd fds[2] = {{fd_, POLLIN, 0}, {want_stdin ? 0 : -1, POLLIN, 0}};
      if (poll(fds, 2, poll_timeout_ms()) < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      if (fd_ >= 0 && fds[0].revents) read_socket();
      if (done_) return status_;
      if (broken_) continue;
      // A server ping read just now is answered first: typed lines wait for that.
      if (want_stdin && fds[1].revents && (online() ? may_send_typed() : true)) read_stdin();
    }
  }

 private:
  enum class Kind { typed, raw, ping, hello, catchup, rejoin };
  struct Pending {
    long long id;
    json request;
    Kind kind;
  };

  // --- the connection's state --------------------------------------------

  // Registered, not leaving after `shutdown`, and not resuming: typed lines
  // go out now.
  bool online() const { return fd_ >= 0 && registered_ && !leaving_ && !resuming(); }
  bool resuming() const {
    for (const Pending& p : pending_)
      if (p.kind == Kind::hello || p.kind == Kind::catchup || p.kind == Kind::rejoin) return true;
    return false;
  }
  bool typed_in_flight() const {
    for (const Pending& p : pending_)
      if (p.kind == Kind::typed || p.kind == Kind::raw) return true;
    return false;
  }

  int poll_timeout_ms() const {
    if (!reconnect_at_) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*reconnect_at_ - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
  }

  void note(const std::string& text) {
    if (!options_.json_mode) out(clock_prefix(std::time(nullptr)) + text + "\n");
  }

  void schedule_reconnect(int delay_ms) {
    reconnect_at_ = Clock::now() + std::chrono::milliseconds(delay_ms);
    char text[64];
    std::snprintf(text, sizeof text, "* reconnecting in %.1f s", delay_ms / 1000.0);
    note(text);
  }

  void close_socket() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    broken_ = false;
    registered_ = false;
    received_ = LineFramer(max_server_line);
    for (const Pending& p : pending_)
      if (p.kind == Kind::typed || p.kind == Kind::raw)
        note("! no reply to " + field_text(p.request, "cmd") + " before the connection went; not sent again");
    pending_.clear();
  }

  // The connection went: EOF, a read or write error. Ends the client where
  // it would have ended before reconnecting existed (not yet registered,
  // --no-reconnect, /quit) or where it must not come back (`replaced`).
  void lost_connection() {
    const bool eof = !broken_;
    if (quitting_) return finish(0, "");
    if (replaced_) return finish(1, "* another connection resumed this session; not reconnecting\n");
    if (!options_.reconnect || !registered_once_) {
      if (!eof) return finish(1, "! connection lost\n");
      return finish(!stdin_open_ && pending_.empty() ? 0 : 1, "* connection closed by the server\n");
    }
    const bool was_online = registered_;
    close_socket();
    if (script_finished()) return finish(0, "");
    leaving_ = false;
    if (!reconnect_at_) schedule_reconnect(was_online ? backoff_.after_loss() : backoff_.after_failure());
  }

  void reconnect() {
    reconnect_at_.reset();
    if (fd_ >= 0) close_socket();  // leaving after `shutdown`
    leaving_ = false;
    std::string error;
    fd_ = connect_within(options_.address, connect_timeout_ms, error);
    if (fd_ < 0) {
      note("* cannot connect to " + options_.address.text() + ": " + error);
      return schedule_reconnect(backoff_.after_failure());
    }
    send_hello();
  }

  // --- requests ----------------------------------------------------------

  void send_hello() {
    json hello = {{"cmd", "hello"}, {"nick", session_.nick}};
    if (!token_.empty()) hello["resume"] = token_;
    request(std::move(hello), Kind::hello);
  }

  // A failed send marks the connection broken; the loop deals with that
  // once no framer is in the middle of a callback.
  void request(json body, Kind kind) {
    if (fd_ < 0 || broken_) return;
    const long long id = next_id_++;
    body["id"] = id;
    // Typed text need not be UTF-8; JSON must be, so bad bytes go as U+FFFD.
    const std::string line = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    pending_.push_back({id, std::move(body), kind});
    std::size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        broken_ = true;
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  // --- typed lines -------------------------------------------------------

  // Typed lines go out one at a time: the next waits for the previous reply.
  // The framer is fed and resumed only while nothing is pending; a line that
  // sends a request pauses it until the reply.
  bool may_send_typed() const { return !done_ && !quitting_ && online() && pending_.empty(); }

  bool script_finished() const {
    return !stdin_open_ && queued_.empty() && !typed_.has_pending_lines() && !typed_in_flight();
  }

  bool on_typed_line(std::string_view line) {
    if (!online()) return queue_typed(line);
    Action action = interpret(line, session_);
    out(action.print);
    if (action.request) request(*action.request, action.raw ? Kind::raw : Kind::typed);
    quitting_ = action.quit;
    return may_send_typed();
  }

  // While disconnected: /quit ends the client at once; other lines wait for
  // the reconnect, up to a bound, and are refused past it.
  bool queue_typed(std::string_view line) {
    if (interpret(line, session_).quit) {
      finish(0, "* not connected; quitting\n");
      return false;
    }
    if (queued_.size() >= max_queued_lines || queued_bytes_ + line.size() > max_queued_bytes) {
      note("! not connected and " + std::to_string(queued_.size()) + " lines wait already; dropped: " +
           std::string(line));
      return true;
    }
    if (queued_.empty())
      note("* not connected: typed lines are sent once reconnected (at most " +
           std::to_string(max_queued_lines) + ")");
    queued_.emplace_back(line);
    queued_bytes_ += line.size();
    return true;
  }

  void check_typed(LineFramer::Status status) {
    if (status == LineFramer::Status::line_too_long)
      finish(1, "! a typed line is longer than " + std::to_string(max_typed_line) + " bytes\n");
  }

  void feed_typed_lines() {
    while (may_send_typed() && !queued_.empty()) {
      const std::string line = std::move(queued_.front());
      queued_.pop_front();
      queued_bytes_ -= line.size();
      on_typed_line(line);
    }
    const bool may_resume = online() ? may_send_typed() && queued_.empty() : registered_once_;
    if (!done_ && may_resume && typed_.has_pending_lines())
      check_typed(typed_.resume([this](std::string_view line) { return on_typed_line(line); }));
    if (!done_ && script_finished() && (may_send_typed() || (registered_once_ && !online()))) finish(0, "");
  }

  void read_stdin() {
    char chunk[4096];
    const ssize_t n = read(0, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) stdin_open_ = false;
    // At the end of input a last line without LF still counts.
    const std::string_view data = n > 0 ? std::string_view(chunk, static_cast<std::size_t>(n)) : "\n";
    check_typed(typed_.feed(data, [this](std::string_view line) { return on_typed_line(line); }));
  }

  // --- the server's lines ------------------------------------------------

  void read_socket() {
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) return lost_connection();
    const std::string_view data(chunk, static_cast<std::size_t>(n));
    const auto status = received_.feed(data, [this](std::string_view line) {
      on_server_line(line);
      return !done_ && !broken_;
    });
    if (status == LineFramer::Status::line_too_long)
      finish(1, "! the server sent a line longer than " + std::to_string(max_server_line) + " bytes\n");
  }

  void on_server_line(std::string_view line) {
    if (options_.json_mode) out(std::string(line) + "\n");
    const json message = json::parse(line.begin(), line.end(), nullptr, false);
    if (message.is_discarded() || !message.is_object()) return;
    const std::time_t now = std::time(nullptr);
    if (message.contains("ok")) return on_reply(message, now);
    const std::string event = field_text(message, "event");
    if (event == "ping") request({{"cmd", "ping"}}, Kind::ping);
    if (event == "error" && field_text(message, "code") == "replaced") replaced_ = true;
    if (event == "message" && message.contains("channel")) {
      if (catchup_.hold(message)) return;
      return show_message(message, now);
    }
    if (!options_.json_mode) out(render_event(message, session_, now));
    if (event == "shutdown") on_shutdown(message);
  }

  // A channel message shows once: one at or below the channel's mark came
  // in a history page already.
  void show_message(const json& message, std::time_t now) {
    if (!marks_.saw(field_text(message, "channel"), field(message, "seq"))) return;
    if (!options_.json_mode) out(render_event(message, session_, now));
  }

  void on_shutdown(const json& event) {
    if (!options_.reconnect || !registered_ || leaving_) return;
    const json& retry = field(event, "retry_ms");
    leaving_ = true;
    schedule_reconnect(retry.is_number_integer() ? backoff_.after_shutdown(retry.get<long long>())
                                                 : backoff_.after_loss());
  }

  void on_reply(const json& reply, std::time_t now) {
    if (pending_.empty()) return;
    const Pending answered = std::move(pending_.front());
    pending_.pop_front();
    switch (answered.kind) {
      case Kind::ping: return;
      case Kind::hello: return on_hello(answered.request, reply, now);
      case Kind::catchup:
        if (!options_.json_mode) out(catchup_.on_page(reply, marks_, session_, now));
        return continue_catchup(now);
      case Kind::rejoin: return on_rejoin(answered.request, reply, now);
      case Kind::typed:
      case Kind::raw: return on_typed_reply(answered, reply, now);
    }
  }

  void on_typed_reply(const Pending& answered, const json& reply, std::time_t now) {
    const std::string text = answered.kind == Kind::raw ? reply.dump() + "\n"
                                                        : render_reply(answered.request, reply, session_, now);
    if (!options_.json_mode) out(text);
    if (!field_is_true(reply, "ok")) return;
    const std::string cmd = field_text(answered.request, "cmd");
    if (cmd == "join") marks_.joined(reply);
    if (cmd == "part") marks_.left(field_text(reply, "channel"));
    if (cmd == "say") marks_.saw(field_text(reply, "channel"), field(reply, "seq"));
    if (cmd == "quit") finish(0, "");
  }

  // --- registering, resuming ---------------------------------------------

  void on_hello(const json& request, const json& reply, std::time_t now) {
    if (!field_is_true(reply, "ok")) {
      if (!options_.json_mode) out(render_reply(request, reply, session_, now));
      if (!registered_once_) return finish(1, "");
      if (field_text(field(reply, "error"), "code") != "unavailable")
        return finish(1, "! could not register again; giving up\n");
      broken_ = true;  // the loop closes it and backs off, once no framer callback runs
      return;
    }
    token_ = field_text(reply, "session");
    registered_ = true;
    if (!registered_once_) {
      registered_once_ = true;
      if (!options_.json_mode) out(render_reply(request, reply, session_, now));
      return;
    }
    backoff_.reset();
    session_.nick = field_text(reply, "nick");
    if (field_is_true(reply, "resumed")) return resume(field(reply, "channels"), now);
    rejoin();
  }

  void resume(const json& channels, std::time_t now) {
    note("* reconnected as " + session_.nick + ", session resumed");
    const auto wanted = std::move(session_.joined);
    session_.joined.clear();
    if (channels.is_array())
      for (const json& c : channels)
        if (!field_text(c, "channel").empty()) session_.joined.insert(field_text(c, "channel"));
    // A rejoin answered `unavailable`, or a join whose reply the lost
    // connection took, left the session outside channels the user is in:
    // they stay the user's, and are joined again.
    std::vector<std::string> missing;
    for (const std::string& channel : wanted)
      if (!session_.joined.contains(channel)) missing.push_back(channel);
    session_.joined.insert(missing.begin(), missing.end());
    rejoin_current_ = session_.channel;
    if (!session_.joined.contains(session_.channel))
      session_.channel = session_.joined.empty() ? "" : *session_.joined.begin();
    catchup_.start(channels, marks_);
    continue_catchup(now);
    for (const std::string& channel : missing) {
      note("* not in " + channel + " any more; joining it again");
      request({{"cmd", "join"}, {"channel", channel}}, Kind::rejoin);
    }
  }

  void continue_catchup(std::time_t now) {
    if (const std::optional<json> page = catchup_.next_request(marks_)) return request(*page, Kind::catchup);
    for (const json& message : catchup_.take_held()) show_message(message, now);
  }

  // The server kept no session (a restarted server, an expired grace): join
  // the channels again, the current one staying current.
  void rejoin() {
    marks_.clear();
    std::string names;
    for (const std::string& channel : session_.joined) names += (names.empty() ? "" : ", ") + channel;
    note("* reconnected as " + session_.nick + ", as a new session" +
         (names.empty() ? "" : "; joining " + names + " again"));
    rejoin_current_ = session_.channel;
    for (const std::string& channel : session_.joined) request({{"cmd", "join"}, {"channel", channel}}, Kind::rejoin);
  }

  void on_rejoin(const json& request, const json& reply, std::time_t now) {
    if (!options_.json_mode) out(render_reply(request, reply, session_, now));
    if (field_text(field(reply, "error"), "code") == "unavailable") {
      broken_ = true;  // still in it for the user: reconnect, back off, and the resume joins it again
      return;
    }
    if (field_is_true(reply, "ok"))
      marks_.joined(reply);
    else
      session_.joined.erase(field_text(request, "channel"));
    if (session_.joined.contains(rejoin_current_)) session_.channel = rejoin_current_;
  }

  void finish(int status, const std::string& message) {
    out(message);
    status_ = status;
    done_ = true;
  }

  Options options_;
  int fd_;
  Session session_;
  Marks marks_;
  Catchup catchup_;
  Backoff backoff_{random_unit};
  std::string token_;  // the session to resume
  std::deque<Pending> pending_;
  std::deque<std::string> queued_;  // typed while disconnected
  std::size_t queued_bytes_ = 0;
  LineFramer typed_{max_typed_line};
  LineFramer received_{max_server_line};
  std::optional<Clock::time_point> reconnect_at_;
  std::string rejoin_current_;
  long long next_id_ = 1;
  bool stdin_open_ = true;
  bool quitting_ = false;
  bool registered_ = false;       // this connection's hello succeeded
  bool registered_once_ = false;  // some connection's did
  bool leaving_ = false;          // told `shutdown`; reconnecting at reconnect_at_
  bool broken_ = false;           // a send failed
  bool replaced_ = false;         // told `replaced`: another client has the session
  bool done_ = false;
  int status_ = 0;
};

}  // namespace

int run_terminal(const Options& options, int fd) { return Terminal(options, fd).run(); }

}  // namespace parley::client
