// The connection: a libuv stream (TCP or a unix socket) speaking RESP3,
// our own command writer and RespReader, one uv_timer_t for whichever
// deadline the current state has.
//
// Why not hiredis: one connection carries both the commands and the
// pub/sub messages, which needs RESP3 (`HELLO 3`: messages come as pushes
// between the replies, in the order Redis ran them), and hiredis 0.14
// reads only RESP2 (docs/cluster.md, "One connection").
//
// Ownership is simple because everything is ours: the stream handle is
// the one resource of a connection; drop() closes it, and its close
// callback (end_connection) is the one place that tells the owner:
// failures, on_down, then the next attempt. It runs from the loop, never
// from inside our own calls or a reply's callback.
#include "parley/cluster/redis_connection.hpp"

#include <strings.h>
#include <uv.h>

#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <random>
#include <map>
#include <utility>

#include "parley/cluster/redis_backoff.hpp"
#include "parley/cluster/resp_reader.hpp"
#include "parley/socket/address.hpp"

namespace parley::cluster {
namespace {

// How long a connection must have been up for its loss to count as a new
// outage (the backoff starts over) rather than one more failed attempt.
constexpr std::uint64_t stable_ms = 1000;

// What one read asks the kernel for. libuv reads again at once while a
// read fills it (up to 32 times), so a burst of messages is read, and
// handed to the hub, within one loop turn.
constexpr std::size_t read_size = 64 * 1024;

// What a sent command waits for. Redis answers in the order it was sent,
// so the FIFO's front is always the next reply's owner; pushes (messages,
// and in RESP3 the subscribe confirmations) are told apart by their type.
struct InFlight {
  enum class Kind { handshake, command, subscribe, unsubscribe };
  Kind kind = Kind::command;
  RedisConnection::Callback done;  // empty for handshake and unsubscribe
  std::string channel;             // subscribe and unsubscribe
  std::uint64_t subscription = 0;  // subscribe: the Subscription it was sent for
  std::uint64_t sent_ns = 0;       // uv_hrtime(), for the latency
  std::uint64_t deadline_ms = 0;   // uv_now() + command_timeout_ms
};

enum class State {
  idle,        // start() not called yet
  waiting,     // the timer runs until the next attempt
  resolving,   // uv_getaddrinfo in flight
  connecting,  // a stream: its connect or the handshake not answered yet
  up,          // the handshake answered: commands are taken
  closing,     // the stream is closing
  stopped,     // stop() is done
};

// Commands whose replies do not come one per command in the FIFO's order
// (pushes, or none), or that change what the connection speaks.
bool routed_apart(std::string_view name) {
  static constexpr std::array<std::string_view, 9> names = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
      "monitor",   "reset",      "hello"};
  for (std::string_view n : names)
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return true;
  return false;
}

bool is_numeric_host(const std::string& host) {
  unsigned char ignored[16];
  return uv_inet_pton(AF_INET, host.c_str(), ignored) == 0 || uv_inet_pton(AF_INET6, host.c_str(), ignored) == 0;
}

// Every address of `list` as a numeric string, in the resolver's order.
std::vector<std::string> numeric_addresses(const addrinfo* list) {
  std::vector<std::string> out;
  for (const addrinfo* a = list; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET)
      uv_ip4_name(reinterpret_cast<const sockaddr_in*>(a->ai_addr), text, sizeof text);
    else if (a->ai_family == AF_INET6)
      uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(a->ai_addr), text, sizeof text);
    if (text[0] != '\0') out.emplace_back(text);
  }
  return out;
}

// RESP's request form, appended to `out`: `*N`, then `$len` and the bytes
// of each argument. The one copy a command's arguments get on their way to
// the kernel.
void append_number(std::string& out, char type, std::size_t n) {
  char digits[24];
  digits[0] = type;
  const auto end = std::to_chars(digits + 1, digits + sizeof digits - 2, n).ptr;
  end[0] = '\r';
  end[1] = '\n';
  out.append(digits, static_cast<std::size_t>(end + 2 - digits));
}

void append_command(std::string& out, const std::vector<std::string_view>& argv) {
  append_number(out, '*', argv.size());
  for (std::string_view arg : argv) {
    append_number(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n");
  }
}

// A push's element `k` (leaves only: a pub/sub push is an array of
// strings and integers).
std::string_view push_text(const std::vector<RespNode>& nodes, std::size_t k) {
  return k + 1 < nodes.size() ? nodes[k + 1].text : std::string_view();
}

}  // namespace

struct RedisConnection::Impl {
  Impl(uv_loop_t* loop, RedisOptions options)
      : loop_(loop), options_(std::move(options)), reader_(options_.reply_limits), read_buffer_(read_size) {
    random_.seed(static_cast<std::uint_fast32_t>(uv_hrtime()));
  }

  uv_loop_t* loop_;
  RedisOptions options_;
  RedisStats stats_;
  std::function<void()> on_up_;
  std::function<void(std::string_view)> on_down_;
  MessageHandler on_message_;
  std::function<void(std::string_view, std::int64_t)> on_connect_failed_;
  std::function<void(std::int64_t)> on_latency_;
  std::function<void()> on_closed_;

  State state_ = State::idle;
  bool stopping_ = false;
  bool was_up_ = false;     // this stream completed its handshake
  bool abandoned_ = false;  // the owner destroyed us: call nothing of theirs

  uv_timer_t timer_{};  // the connect deadline, the oldest command's, or the backoff
  bool timer_open_ = false;
  uv_idle_t soon_{};    // writes the turn's commands
  bool soon_open_ = false;
  uv_getaddrinfo_t resolve_{};
  bool resolving_ = false;

  // The attempt's stream: one per attempt, initialised again only after
  // its close callback ran.
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } stream_{};
  bool stream_open_ = false;   // initialised, its close callback not run yet
  bool stream_closing_ = false;
  uv_connect_t connect_{};
  uv_write_t write_{};
  bool writing_ = false;       // write_ holds written_ until its callback
  std::string out_;            // commands not yet handed to the kernel
  std::string written_;        // what the kernel did not take at once, in uv_write's hands
  RespReader reader_;
  std::vector<char> read_buffer_;
  std::string why_;            // why the current stream ends: the first reason wins

  std::vector<std::string> candidates_;  // numeric addresses, or the unix path
  std::size_t next_candidate_ = 0;
  bool timed_out_ = false;               // this attempt's connect deadline passed
  unsigned failures_ = 0;                // attempts in a row that did not come up (or not for long)
  std::uint64_t up_at_ = 0;              // loop time of the last handshake
  std::minstd_rand random_;

  std::deque<InFlight> in_flight_;
  // A channel subscribed, or being subscribed, from its first SUBSCRIBE to
  // its UNSUBSCRIBE (or the connection's end). Answers to the SUBSCRIBEs of
  // an earlier one of the same channel (sent before an UNSUBSCRIBE) are
  // told apart by `id`.
  struct Subscription {
    std::uint64_t id = 0;
    unsigned pending = 0;    // its SUBSCRIBEs not answered yet
    bool confirmed = false;  // Redis confirmed one
  };
  std::map<std::string, Subscription, std::less<>> channels_;
  std::uint64_t subscriptions_ = 0;  // the last Subscription::id given

  // ---- lifecycle ------------------------------------------------------------

  void start() {
    if (state_ != State::idle || stopping_) return;
    uv_timer_init(loop_, &timer_);  // cannot fail: it allocates nothing
    timer_.data = this;
    timer_open_ = true;
    uv_idle_init(loop_, &soon_);  // cannot fail either
    soon_.data = this;
    soon_open_ = true;
    // The first attempt starts from the loop too, so that even its failure
    // reaches the owner from there rather than from inside start().
    state_ = State::waiting;
    arm(0);
  }

  void stop(std::function<void()> on_closed) {
    if (stopping_ || state_ == State::stopped) return;
    stopping_ = true;
    on_closed_ = std::move(on_closed);
    if (state_ == State::idle) {
      state_ = State::stopped;
      finish_stop();
      return;
    }
    if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));  // its callback still runs
    drop("stopped");
    if (timer_open_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_)))
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_timer_closed);
    if (soon_open_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&soon_)))
      uv_close(reinterpret_cast<uv_handle_t*>(&soon_), on_soon_closed);
  }

  // The owner is gone (~RedisConnection before on_closed): call nothing of
  // theirs again, close everything, and free ourselves once closed. (The
  // handlers are not reset here: one of them may be running right now.)
  void abandon() {
    abandoned_ = true;
    if (state_ == State::idle || state_ == State::stopped) {
      delete this;
      return;
    }
    if (stopping_) {
      on_closed_ = [this] { delete this; };
      return;
    }
    stop([this] { delete this; });
  }

  // Runs on_closed once nothing of ours is open or in flight. The caller
  // must touch nothing after it: on_closed may destroy us.
  void maybe_finish_stop() {
    if (!stopping_ || state_ == State::stopped) return;
    if (resolving_ || stream_open_ || timer_open_ || soon_open_) return;
    state_ = State::stopped;
    finish_stop();
  }

  void finish_stop() {
    std::function<void()> done = std::move(on_closed_);
    on_closed_ = nullptr;
    if (done) done();
  }

  // Whether to call one of the owner's callbacks.
  bool owner_wants(const auto& callback) const { return callback && !abandoned_; }

  static void on_timer_closed(uv_handle_t* handle) {
    Impl& self = *static_cast<Impl*>(handle->data);
    self.timer_open_ = false;
    self.maybe_finish_stop();
  }

  static void on_soon_closed(uv_handle_t* handle) {
    Impl& self = *static_cast<Impl*>(handle->data);
    self.soon_open_ = false;
    self.maybe_finish_stop();
  }

  // ---- the timer --------------------------------------------------------------

  void arm(std::uint64_t ms) {
    if (!stopping_) uv_timer_start(&timer_, on_timer, ms, 0);
  }

  static void on_timer(uv_timer_t* timer) {
    Impl& self = *static_cast<Impl*>(timer->data);
    switch (self.state_) {
      case State::waiting:
        self.begin_attempt();
        break;
      case State::up:
        self.check_oldest_command();
        break;
      case State::resolving:
      case State::connecting:
      case State::closing:  // between two addresses of one attempt
        self.connect_timed_out();
        break;
      case State::idle:
      case State::stopped:
        break;
    }
  }

  void connect_timed_out() {
    timed_out_ = true;
    if (why_.empty())  // closing between two addresses: the last one's reason stands
      why_ = "cannot connect to " + options_.address.to_string() + ": not up within " +
           std::to_string(options_.connect_timeout_ms) + " ms";
    if (state_ == State::resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));  // on_resolved sees timed_out_
    else if (state_ == State::connecting) drop(why_);
    // closing: end_connection sees timed_out_ and tries no further address
  }

  // One timer for all commands: it is armed for the oldest, and when it
  // fires early (that one was answered) it is re-armed for the new oldest.
  void check_oldest_command() {
    if (in_flight_.empty()) return;
    const std::uint64_t now = uv_now(loop_);
    const InFlight& oldest = in_flight_.front();
    if (now < oldest.deadline_ms) {
      arm(oldest.deadline_ms - now);
      return;
    }
    ++stats_.timeouts;
    drop("no reply within " + std::to_string(options_.command_timeout_ms) + " ms");
  }

  // ---- connecting ---------------------------------------------------------------

  void begin_attempt() {
    timed_out_ = false;
    candidates_.clear();
    next_candidate_ = 0;
    arm(static_cast<std::uint64_t>(options_.connect_timeout_ms));
    const RedisAddress& address = options_.address;
    if (address.unix_socket || is_numeric_host(address.host)) {
      candidates_.push_back(address.unix_socket ? address.path : address.host);
      connect_next({});
      return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    resolve_.data = this;
    const int rc = uv_getaddrinfo(loop_, &resolve_, on_resolved, address.host.c_str(), nullptr, &hints);
    if (rc != 0) {
      attempt_failed("cannot resolve " + address.host + ": " + uv_strerror(rc));
      return;
    }
    resolving_ = true;
    state_ = State::resolving;
  }

  static void on_resolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
    Impl& self = *static_cast<Impl*>(request->data);
    self.resolving_ = false;
    std::vector<std::string> found = numeric_addresses(result);
    uv_freeaddrinfo(result);
    if (self.stopping_) {
      self.maybe_finish_stop();
      return;
    }
    if (self.timed_out_) {
      self.attempt_failed(std::exchange(self.why_, {}));
      return;
    }
    if (status < 0 || found.empty()) {
      self.attempt_failed("cannot resolve " + self.options_.address.host + ": " +
                          (status < 0 ? uv_strerror(status) : "no address"));
      return;
    }
    self.candidates_ = std::move(found);
    self.connect_next({});
  }

  // Tries the attempt's next address; when none is left, the attempt failed
  // (with the last address's reason).
  void connect_next(std::string last_error) {
    if (next_candidate_ < candidates_.size()) {
      open_stream(candidates_[next_candidate_++]);
      return;
    }
    attempt_failed(last_error.empty() ? "no address to connect to" : last_error);
  }

  std::string describe(const std::string& where) const {
    return options_.address.unix_socket ? where : join_host_port(where, options_.address.port);
  }

  // A stream connecting to `where`. Whatever goes wrong from here on goes
  // through drop() and the close callback, which tries the next address.
  void open_stream(const std::string& where) {
    stream_closing_ = false;
    why_.clear();
    reader_ = RespReader(options_.reply_limits);
    state_ = State::connecting;
    stream_open_ = true;
    connect_.data = this;
    int rc = 0;
    if (options_.address.unix_socket) {
      uv_pipe_init(loop_, &stream_.pipe, 0);  // cannot fail: no descriptor yet
      stream_.handle.data = this;
      uv_pipe_connect(&connect_, &stream_.pipe, where.c_str(), on_connected);  // errors come to on_connected
    } else {
      uv_tcp_init(loop_, &stream_.tcp);  // cannot fail: no descriptor yet
      stream_.handle.data = this;
      sockaddr_storage address{};
      rc = where.find(':') == std::string::npos
               ? uv_ip4_addr(where.c_str(), options_.address.port, reinterpret_cast<sockaddr_in*>(&address))
               : uv_ip6_addr(where.c_str(), options_.address.port, reinterpret_cast<sockaddr_in6*>(&address));
      if (rc == 0)
        rc = uv_tcp_connect(&connect_, &stream_.tcp, reinterpret_cast<const sockaddr*>(&address), on_connected);
    }
    if (rc != 0) drop(ending(uv_strerror(rc)));
  }

  static void on_connected(uv_connect_t* request, int status) {
    Impl& self = *static_cast<Impl*>(request->data);
    if (self.stream_closing_) return;  // dropped meanwhile (UV_ECANCELED): the close callback goes on
    if (status < 0) {
      self.drop(self.ending(uv_strerror(status)));
      return;
    }
    if (!self.options_.address.unix_socket) uv_tcp_nodelay(&self.stream_.tcp, 1);
    const int rc = uv_read_start(&self.stream_.stream, on_alloc, on_read);
    if (rc != 0) {
      self.drop(self.ending(uv_strerror(rc)));
      return;
    }
    self.send_handshake();
  }

  // HELLO 3 (with the client name, for CLIENT LIST): RESP3 from here on,
  // and the connection is up only once Redis answered (not merely
  // accepted: a paused Redis accepts and answers nothing). A Redis still
  // loading its data answers HELLO; the backplane's FUNCTION LOAD is what
  // it refuses then.
  void send_handshake() {
    std::vector<std::string_view> argv{"HELLO", "3"};
    if (!options_.client_name.empty()) argv.insert(argv.end(), {"SETNAME", options_.client_name});
    append_command(out_, argv);
    track(InFlight::Kind::handshake, {}, {});
    flush();
  }

  void handshake_answered(const RespNode& reply) {
    if (reply.type == RespNode::Type::error) {
      drop("handshake refused: " + std::string(reply.text));
      return;
    }
    uv_timer_stop(&timer_);  // the connect deadline
    state_ = State::up;
    was_up_ = true;
    up_at_ = uv_now(loop_);
    ++stats_.connects;
    if (owner_wants(on_up_)) on_up_();
  }

  // The attempt is over without coming up: wait, then try again.
  void attempt_failed(const std::string& why) {
    ++stats_.connect_failures;
    const std::int64_t delay = schedule_retry();
    if (owner_wants(on_connect_failed_)) on_connect_failed_(why, delay);
  }

  std::int64_t schedule_retry() {
    const double random = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    const std::int64_t delay =
        reconnect_delay_ms(failures_++, options_.backoff_min_ms, options_.backoff_max_ms, random);
    state_ = State::waiting;
    arm(static_cast<std::uint64_t>(delay));
    return delay;
  }

  // ---- writing ----------------------------------------------------------------------

  // The commands of a loop turn are written at the start of the next turn's
  // idle phase, before the loop polls again: all in one write. An idle
  // handle rather than a prepare handle: a command queued while the loop
  // runs its prepare handles (the hub's end of turn) still goes out before
  // the loop blocks, since an active idle handle makes that poll return at
  // once.
  void write_soon() {
    if (state_ == State::up && !writing_) uv_idle_start(&soon_, on_soon);
  }

  static void on_soon(uv_idle_t* handle) {
    uv_idle_stop(handle);
    static_cast<Impl*>(handle->data)->flush();
  }

  // Hands out_ to the kernel: uv_try_write first (no request, no callback,
  // no epoll change when the socket takes it all, as it nearly always
  // does), and only what it did not take to uv_write, which watches the
  // socket for writability until it is gone. One write in flight at a time;
  // commands queued meanwhile follow from its callback.
  void flush() {
    if (writing_ || out_.empty() || !stream_open_ || stream_closing_) return;
    uv_buf_t buffer = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int n = uv_try_write(&stream_.stream, &buffer, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      drop(ending(uv_strerror(n)));
      return;
    }
    if (static_cast<std::size_t>(n) == out_.size()) {
      out_.clear();  // keeps its capacity: no allocation per command once grown
      return;
    }
    written_.assign(out_, static_cast<std::size_t>(n));
    out_.clear();
    buffer = uv_buf_init(written_.data(), static_cast<unsigned>(written_.size()));
    write_.data = this;
    writing_ = true;
    const int rc = uv_write(&write_, &stream_.stream, &buffer, 1, on_written);
    if (rc != 0) {
      writing_ = false;
      drop(ending(uv_strerror(rc)));
    }
  }

  static void on_written(uv_write_t* request, int status) {
    Impl& self = *static_cast<Impl*>(request->data);
    self.writing_ = false;
    if (status < 0) {  // UV_ECANCELED when closing: the close callback goes on
      self.drop(self.ending(uv_strerror(status)));
      return;
    }
    self.written_.clear();
    self.flush();
  }

  // ---- reading ----------------------------------------------------------------------

  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) {
    Impl& self = *static_cast<Impl*>(handle->data);
    *buffer = uv_buf_init(self.read_buffer_.data(), static_cast<unsigned>(self.read_buffer_.size()));
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    Impl& self = *static_cast<Impl*>(stream->data);
    if (nread == 0 || self.stream_closing_) return;
    if (nread < 0) {
      self.drop(self.ending(nread == UV_EOF ? "connection closed" : uv_strerror(static_cast<int>(nread))));
      return;
    }
    self.reader_.feed(std::string_view(self.read_buffer_.data(), static_cast<std::size_t>(nread)));
    self.dispatch();
  }

  // Every whole value read so far, in order, until the stream ends: a
  // callback may drop the connection or stop it (then nothing more is
  // handed over; the close callback fails what waited).
  void dispatch() {
    while (!stream_closing_) {
      const RespReader::Status status = reader_.next();
      if (status == RespReader::Status::incomplete) return;
      if (status == RespReader::Status::broken) {
        // A reply over the bounds, or bytes that are not RESP: nothing after
        // it can be matched to its command.
        drop("unreadable reply: " + reader_.why());
        return;
      }
      if (reader_.push()) on_push(reader_.nodes());
      else on_reply();
    }
  }

  // A push: a message, or the confirmation of a (un)subscribe, which
  // answers the FIFO's front. Other pushes (never asked for) are ignored.
  void on_push(const std::vector<RespNode>& nodes) {
    if (nodes.empty() || nodes[0].type != RespNode::Type::array || nodes[0].size < 3) return;
    const std::string_view kind = push_text(nodes, 0);
    const std::string_view channel = push_text(nodes, 1);
    if (kind == "message") {
      if (owner_wants(on_message_) && channels_.contains(channel)) on_message_(channel, push_text(nodes, 2));
      return;
    }
    const auto expected = kind == "subscribe"     ? InFlight::Kind::subscribe
                          : kind == "unsubscribe" ? InFlight::Kind::unsubscribe
                                                  : InFlight::Kind::command;
    if (expected == InFlight::Kind::command) return;
    std::optional<InFlight> entry = take_front(expected, channel);
    if (entry && expected == InFlight::Kind::subscribe) subscribe_answered(*entry, true);
    if (entry && owner_wants(entry->done)) entry->done(reader_.reply());
  }

  // A SUBSCRIBE answered: confirmed, or refused. A refusal subscribed
  // nothing: its channel leaves the set (its messages would not come
  // anyway, and an unsubscribe of it has nothing to undo) unless Redis
  // confirmed another SUBSCRIBE of it (a refusal ends no subscription) or
  // one is still on its way. An answer to a SUBSCRIBE sent before an
  // UNSUBSCRIBE of the channel changes nothing of what came after.
  void subscribe_answered(const InFlight& sent, bool ok) {
    const auto it = channels_.find(sent.channel);
    if (it == channels_.end() || it->second.id != sent.subscription) return;
    Subscription& sub = it->second;
    --sub.pending;
    if (ok) sub.confirmed = true;
    else if (!sub.confirmed && sub.pending == 0) channels_.erase(it);
  }

  // An ordinary reply: the FIFO's front's. In RESP3 a (un)subscribe is
  // confirmed by a push, so an ordinary reply to one is its refusal (an
  // ACL without SUBSCRIBE, say).
  void on_reply() {
    if (in_flight_.empty()) {
      drop("a reply that no command waits for");
      return;
    }
    const InFlight::Kind kind = in_flight_.front().kind;
    if (kind == InFlight::Kind::handshake) {
      in_flight_.pop_front();
      handshake_answered(reader_.nodes()[0]);
      return;
    }
    const bool is_error = reader_.nodes()[0].type == RespNode::Type::error;
    if (kind != InFlight::Kind::command && !is_error) {
      drop("a reply that no command waits for");
      return;
    }
    std::optional<InFlight> entry = take_front(kind, in_flight_.front().channel);
    if (entry && kind == InFlight::Kind::subscribe) subscribe_answered(*entry, false);
    if (entry && owner_wants(entry->done)) entry->done(reader_.reply());
  }

  // The FIFO's front, taken for a reply of `kind` (and `channel`); null, with
  // the connection dropped, when the reply is not what the front waits for:
  // past that, no reply could be matched to its command.
  std::optional<InFlight> take_front(InFlight::Kind kind, std::string_view channel) {
    if (in_flight_.empty() || in_flight_.front().kind != kind || in_flight_.front().channel != channel) {
      drop("a reply that no command waits for");
      return std::nullopt;
    }
    std::optional<InFlight> entry(std::move(in_flight_.front()));
    in_flight_.pop_front();
    if (kind == InFlight::Kind::command && owner_wants(on_latency_))  // what the histogram is about
      on_latency_(static_cast<std::int64_t>((uv_hrtime() - entry->sent_ns) / 1000));
    return entry;
  }

  // ---- ending -------------------------------------------------------------------------

  // Ends the current stream with `why` (unless a reason came first). Safe
  // anywhere, inside our callbacks included. The owner hears of it from
  // end_connection.
  void drop(const std::string& why) {
    if (why_.empty()) why_ = why;
    if (!stream_open_ || stream_closing_) return;
    stream_closing_ = true;
    if (was_up_) uv_timer_stop(&timer_);  // the oldest command's deadline no longer matters
    uv_idle_stop(&soon_);
    state_ = State::closing;
    uv_close(&stream_.handle, on_stream_closed);  // cancels the connect and the write, if any
  }

  void reconnect(std::string_view why) { drop("reconnecting: " + std::string(why)); }

  // Why the stream ends, from what the socket said.
  std::string ending(const std::string& detail) const {
    if (!was_up_ && next_candidate_ > 0)
      return "cannot connect to " + describe(candidates_[next_candidate_ - 1]) + ": " + detail;
    return "connection lost: " + detail;
  }

  static void on_stream_closed(uv_handle_t* handle) {
    Impl& self = *static_cast<Impl*>(handle->data);
    self.stream_open_ = false;
    self.end_connection();
  }

  // The stream is closed: fail what waited, tell the owner, and go on (the
  // next address, a retry, or finishing stop()).
  void end_connection() {
    const std::string why = std::exchange(why_, {});
    const bool was_up = std::exchange(was_up_, false);
    channels_.clear();
    out_.clear();
    written_.clear();
    std::deque<InFlight> waited;
    waited.swap(in_flight_);
    if (was_up) {
      ++stats_.disconnects;
      for (InFlight& entry : waited)
        if (owner_wants(entry.done)) entry.done(RedisReply::failed(why));
      if (owner_wants(on_down_)) on_down_(why);
    }
    if (stopping_) {
      maybe_finish_stop();
      return;
    }
    if (was_up) {
      // Only a connection that lasted starts the backoff over: one that
      // is dropped at once each time (an ACL refusing SUBSCRIBE, say)
      // must not be retried ten times a second for ever.
      if (uv_now(loop_) - up_at_ >= stable_ms) failures_ = 0;
      schedule_retry();
      return;
    }
    if (!timed_out_ && next_candidate_ < candidates_.size()) {
      connect_next(why);
      return;
    }
    attempt_failed(why);
  }

  // ---- commands ---------------------------------------------------------------------

  bool up() const { return state_ == State::up; }

  // The checks command(), subscribe() and unsubscribe() share.
  bool can_send() {
    if (up() && in_flight_.size() < options_.max_in_flight) return true;
    ++stats_.refused;
    return false;
  }

  void track(InFlight::Kind kind, Callback done, std::string_view channel) {
    InFlight entry;
    entry.kind = kind;
    entry.done = std::move(done);
    entry.channel = std::string(channel);
    entry.sent_ns = uv_hrtime();
    entry.deadline_ms = uv_now(loop_) + static_cast<std::uint64_t>(options_.command_timeout_ms);
    in_flight_.push_back(std::move(entry));
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
      arm(static_cast<std::uint64_t>(options_.command_timeout_ms));
  }

  void send(const std::vector<std::string_view>& argv, InFlight::Kind kind, Callback done, std::string_view channel) {
    append_command(out_, argv);
    track(kind, std::move(done), channel);
    write_soon();
  }

  bool command(const std::vector<std::string_view>& argv, Callback done) {
    if (argv.empty() || routed_apart(argv[0])) {
      ++stats_.refused;
      return false;
    }
    if (!can_send()) return false;
    send(argv, InFlight::Kind::command, std::move(done), {});
    return true;
  }

  bool subscribe(std::string_view channel, Callback done) {
    if (!can_send()) return false;
    auto [it, fresh] = channels_.try_emplace(std::string(channel));
    if (fresh) it->second.id = ++subscriptions_;
    ++it->second.pending;
    send({"SUBSCRIBE", channel}, InFlight::Kind::subscribe, std::move(done), channel);
    in_flight_.back().subscription = it->second.id;
    return true;
  }

  bool unsubscribe(std::string_view channel) {
    const auto found = channels_.find(channel);
    if (found == channels_.end() || !can_send()) return false;
    channels_.erase(found);
    send({"UNSUBSCRIBE", channel}, InFlight::Kind::unsubscribe, {}, channel);
    return true;
  }
};

RedisConnection::RedisConnection(uv_loop_s* loop, RedisOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

RedisConnection::~RedisConnection() {
  Impl* impl = impl_.release();
  impl->abandon();  // deletes it, at once or once its handles are closed
}

void RedisConnection::on_up(std::function<void()> handler) { impl_->on_up_ = std::move(handler); }
void RedisConnection::on_down(std::function<void(std::string_view)> handler) { impl_->on_down_ = std::move(handler); }
void RedisConnection::on_message(MessageHandler handler) { impl_->on_message_ = std::move(handler); }
void RedisConnection::on_connect_failed(std::function<void(std::string_view, std::int64_t)> handler) {
  impl_->on_connect_failed_ = std::move(handler);
}
void RedisConnection::on_latency(std::function<void(std::int64_t)> handler) {
  impl_->on_latency_ = std::move(handler);
}

void RedisConnection::start() { impl_->start(); }
void RedisConnection::stop(std::function<void()> on_closed) { impl_->stop(std::move(on_closed)); }
void RedisConnection::reconnect(std::string_view why) { impl_->reconnect(why); }

bool RedisConnection::up() const { return impl_->up(); }
std::size_t RedisConnection::in_flight() const { return impl_->in_flight_.size(); }
const RedisStats& RedisConnection::stats() const { return impl_->stats_; }

bool RedisConnection::command(const std::vector<std::string_view>& argv, Callback done) {
  return impl_->command(argv, std::move(done));
}
bool RedisConnection::subscribe(std::string_view channel, Callback done) {
  return impl_->subscribe(channel, std::move(done));
}
bool RedisConnection::unsubscribe(std::string_view channel) { return impl_->unsubscribe(channel); }

}  // namespace parley::cluster
