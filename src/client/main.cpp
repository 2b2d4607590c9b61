// parley: a terminal client for parleyd.
//   parley [--nick NICK] [--json] ADDRESS
// Typed lines become requests one at a time (each waits for its reply, so a
// script piped in behaves exactly like a person typing); events print as they
// come. With stdin not a terminal it exits once the last command is answered.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "parley/chat/names.hpp"
#include "parley/client/client.hpp"
#include "parley/client/fields.hpp"
#include "parley/protocol/framer.hpp"
#include "parley/socket/address.hpp"
#include "parley/socket/endpoint.hpp"

namespace {

using parley::client::json;

// Bounds on one line: past them the client gives up rather than buffer
// without end. A server with the default limits sends nothing longer than a
// full history page, under 13 MiB even if every byte of 500 texts of 4096
// bytes had to be escaped as \u00XX; a typed line becomes one request.
constexpr std::size_t max_server_line = 16 << 20;
constexpr std::size_t max_typed_line = 1 << 20;

const std::string usage_text = std::string(
    "usage: parley [--nick NICK] [--json] ADDRESS\n"
    "  ADDRESS   HOST:PORT, [IPV6]:PORT or unix:PATH (parleyd's default: ") +
    std::string(parley::default_address) + ")\n"
    "  --nick    nick to register (default: $USER, else 'guest')\n"
    "  --json    print every line from the server as it came\n"
    "Type /help once connected for the commands.\n";
const char* const usage = usage_text.c_str();

std::string default_nick() {
  const char* user = std::getenv("USER");
  if (user && parley::is_valid_nick(user)) return user;
  return "guest";
}

void out(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

class Client {
 public:
  Client(int fd, bool json_mode) : fd_(fd), json_mode_(json_mode) {}

  int run(const std::string& nick) {
    request({{"cmd", "hello"}, {"nick", nick}}, false);
    for (;;) {
      feed_typed_lines();
      if (done_) return status_;
      pollfd fds[2] = {{fd_, POLLIN, 0}, {0, POLLIN, 0}};
      const bool want_stdin = stdin_open_ && !quitting_ && pending_.empty();
      if (poll(fds, want_stdin ? 2 : 1, -1) < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      if (fds[0].revents) read_socket();
      if (done_) return status_;
      // A server ping read just now is answered first: typed lines wait for that.
      if (want_stdin && fds[1].revents && may_send_typed()) read_stdin();
    }
  }

 private:
  struct Pending {
    long long id;
    json request;
    bool silent;  // our own answer to a server ping
    bool raw;     // /raw: show the reply as JSON
  };

  void request(json body, bool silent, bool raw = false) {
    const long long id = next_id_++;
    body["id"] = id;
    // Typed text need not be UTF-8; JSON must be, so bad bytes go as U+FFFD.
    const std::string line = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    pending_.push_back({id, std::move(body), silent, raw});
    std::size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        finish(1, "! connection lost\n");
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  // Typed lines go out one at a time: the next waits for the previous reply.
  // The framer is fed and resumed only while nothing is pending; a line that
  // sends a request pauses it until the reply.
  bool may_send_typed() const { return !done_ && !quitting_ && pending_.empty(); }

  bool on_typed_line(std::string_view line) {
    parley::client::Action action = parley::client::interpret(line, session_);
    out(action.print);
    if (action.request) request(*action.request, false, action.raw);
    quitting_ = action.quit;
    return may_send_typed();
  }

  void check_typed(parley::LineFramer::Status status) {
    if (status == parley::LineFramer::Status::line_too_long)
      finish(1, "! a typed line is longer than " + std::to_string(max_typed_line) + " bytes\n");
  }

  void feed_typed_lines() {
    if (may_send_typed() && typed_.has_pending_lines())
      check_typed(typed_.resume([this](std::string_view line) { return on_typed_line(line); }));
    if (!stdin_open_ && may_send_typed() && !typed_.has_pending_lines()) finish(0, "");
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

  void read_socket() {
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return;
      finish(quitting_ || (!stdin_open_ && pending_.empty()) ? 0 : 1,
             quitting_ ? "" : "* connection closed by the server\n");
      return;
    }
    const std::string_view data(chunk, static_cast<std::size_t>(n));
    const auto status = received_.feed(data, [this](std::string_view line) {
      on_server_line(line);
      return !done_;
    });
    if (status == parley::LineFramer::Status::line_too_long)
      finish(1, "! the server sent a line longer than " + std::to_string(max_server_line) + " bytes\n");
  }

  void on_server_line(std::string_view line) {
    if (json_mode_) out(std::string(line) + "\n");
    const json message = json::parse(line.begin(), line.end(), nullptr, false);
    if (message.is_discarded() || !message.is_object()) return;
    const std::time_t now = std::time(nullptr);
    if (message.contains("ok")) return on_reply(message, now);
    if (parley::client::field_text(message, "event") == "ping") request({{"cmd", "ping"}}, true);
    if (!json_mode_) out(parley::client::render_event(message, session_, now));
  }

  void on_reply(const json& reply, std::time_t now) {
    if (pending_.empty()) return;
    const Pending answered = std::move(pending_.front());
    pending_.pop_front();
    if (answered.silent) return;
    const std::string text = answered.raw ? reply.dump() + "\n"
                                          : parley::client::render_reply(answered.request, reply, session_, now);
    if (!json_mode_) out(text);
    const bool ok = parley::client::field_is_true(reply, "ok");
    const std::string cmd = parley::client::field_text(answered.request, "cmd");
    if (cmd == "hello" && !ok) return finish(1, "");
    if (cmd == "quit" && ok) return finish(0, "");
  }

  void finish(int status, const std::string& message) {
    out(message);
    status_ = status;
    done_ = true;
  }

  int fd_;
  bool json_mode_;
  parley::client::Session session_;
  std::deque<Pending> pending_;
  parley::LineFramer typed_{max_typed_line};
  parley::LineFramer received_{max_server_line};
  long long next_id_ = 1;
  bool stdin_open_ = true;
  bool quitting_ = false;
  bool done_ = false;
  int status_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string nick = default_nick();
  std::string address_text;
  bool json_mode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out(usage);
      return 0;
    } else if (arg == "--json") {
      json_mode = true;
    } else if (arg == "--nick" && i + 1 < argc) {
      nick = argv[++i];
    } else if (arg.starts_with("--nick=")) {
      nick = arg.substr(7);
    } else if (!arg.starts_with("-") && address_text.empty()) {
      address_text = arg;
    } else {
      std::fprintf(stderr, "parley: unexpected argument '%s'\n%s", arg.c_str(), usage);
      return 2;
    }
  }
  if (address_text.empty()) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string error;
  const auto address = parley::parse_address(address_text, error);
  if (!address) {
    std::fprintf(stderr, "parley: '%s': %s\n", address_text.c_str(), error.c_str());
    return 2;
  }
  const int fd = parley::connect_to(*address, error);
  if (fd < 0) {
    std::fprintf(stderr, "parley: cannot connect to %s: %s\n", address_text.c_str(), error.c_str());
    return 1;
  }
  Client client(fd, json_mode);
  const int status = client.run(nick);
  close(fd);
  return status;
}
