// The connection: hiredis's async context for the protocol, our own glue on
// a uv_poll_t for the socket, one uv_timer_t for whichever deadline the
// current state has.
//
// Ownership, the part hiredis makes subtle. hiredis frees its context
// itself when the socket fails (inside redisAsyncHandleRead/Write), and when
// we call redisAsyncFree (at once, or, inside one of its callbacks, right
// after that callback returns). Every one of those paths runs the pending
// callbacks with a NULL reply and then ev.cleanup, exactly once. So:
//   - our hiredis callbacks ignore NULL replies: we keep our own FIFO of
//     what is in flight and fail it ourselves, so no user callback runs
//     twice, and none runs from inside hiredis's free;
//   - ev.cleanup (on_cleanup) is the one place that learns the context is
//     gone: it forgets the pointer and closes the poll handle (before
//     hiredis closes the descriptor);
//   - the poll handle's close callback (end_connection) is the one place
//     that tells the owner: failures, on_down, then the next attempt. It
//     runs from the loop, never from inside hiredis or from our own calls.
#include "parley/cluster/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "parley/cluster/hiredis_reader.hpp"
#include "parley/cluster/redis_backoff.hpp"
#include "parley/socket/address.hpp"

namespace parley::cluster {
namespace {

// How long a connection must have been up for its loss to count as a new
// outage (the backoff starts over) rather than one more failed attempt.
constexpr std::uint64_t stable_ms = 1000;

// What a sent command waits for. Redis answers in the order it was sent,
// so the FIFO's front is always the next reply's owner.
struct InFlight {
  enum class Kind { command, subscribe, unsubscribe };
  Kind kind = Kind::command;
  RedisConnection::Callback done;  // empty for unsubscribe
  std::string channel;             // subscribe and unsubscribe
  std::uint64_t sent_ns = 0;       // uv_hrtime(), for the latency
  std::uint64_t deadline_ms = 0;   // uv_now() + command_timeout_ms
};

enum class State {
  idle,        // start() not called yet
  waiting,     // the timer runs until the next attempt
  resolving,   // uv_getaddrinfo in flight
  connecting,  // a context; the handshake not answered yet
  up,          // the handshake answered: commands are taken
  closing,     // the context is gone or going; the poll handle is closing
  stopped,     // stop() is done
};

// Commands whose replies hiredis 0.14 routes to its pub/sub table (or that
// change what the connection answers), so our FIFO would lose track.
bool routed_apart(std::string_view name) {
  static constexpr std::array<std::string_view, 9> names = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
      "monitor",   "reset",      "hello"};
  for (std::string_view n : names)
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return true;
  return false;
}

std::string_view text_of(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, r->len) : std::string_view();
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

// The pending error of a socket poll reported as failed; "" when none.
std::string socket_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0) return {};
  return std::strerror(error);
}

}  // namespace

struct RedisConnection::Impl {
  Impl(uv_loop_t* loop, RedisOptions options) : loop_(loop), options_(std::move(options)) {
    budget_.max_elements = options_.reply_limits.max_elements;
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
  bool was_up_ = false;     // this context completed its handshake
  bool abandoned_ = false;  // the owner destroyed us: call nothing of theirs

  uv_timer_t timer_{};  // the connect deadline, the oldest command's, or the backoff
  bool timer_open_ = false;
  uv_poll_t poll_{};    // the context's socket: one per context
  bool poll_open_ = false;
  int poll_events_ = 0;
  uv_idle_t soon_{};           // writes the turn's commands (want_write)
  bool soon_open_ = false;
  bool write_wanted_ = false;  // hiredis has bytes to send
  bool flushing_ = false;      // inside on_soon's redisAsyncHandleWrite
  uv_getaddrinfo_t resolve_{};
  bool resolving_ = false;

  redisAsyncContext* ac_ = nullptr;
  bool freeing_ = false;  // redisAsyncFree called, its cleanup still to come
  ReaderBudget budget_;
  std::string why_;       // why the current context ends: the first reason wins

  std::vector<std::string> candidates_;  // numeric addresses, or the unix path
  std::size_t next_candidate_ = 0;
  bool timed_out_ = false;               // this attempt's connect deadline passed
  unsigned failures_ = 0;                // attempts in a row that did not come up (or not for long)
  std::uint64_t up_at_ = 0;              // loop time of the last handshake
  std::minstd_rand random_;

  std::deque<InFlight> in_flight_;
  bool subscriber_ = false;                        // subscribed since it came up
  std::set<std::string, std::less<>> channels_;   // subscribed, or being subscribed

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
    if (ac_) drop("stopped");
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
    if (resolving_ || poll_open_ || ac_ || timer_open_ || soon_open_) return;
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
    while (next_candidate_ < candidates_.size()) {
      const std::string where = candidates_[next_candidate_++];
      std::string error;
      if (open_context(where, error)) return;
      last_error = std::move(error);
    }
    attempt_failed(last_error.empty() ? "no address to connect to" : last_error);
  }

  std::string describe(const std::string& where) const {
    return options_.address.unix_socket ? where : join_host_port(where, options_.address.port);
  }

  // A context for `where`, watched by the poll handle, the handshake queued
  // (hiredis sends it once the socket is writable, i.e. connected).
  bool open_context(const std::string& where, std::string& error) {
    redisAsyncContext* ac = options_.address.unix_socket
                                ? redisAsyncConnectUnix(where.c_str())
                                : redisAsyncConnect(where.c_str(), options_.address.port);
    if (ac == nullptr) {
      error = "cannot connect to " + describe(where) + ": out of memory";
      return false;
    }
    if (ac->err) {
      error = "cannot connect to " + describe(where) + ": " + ac->errstr;
      redisAsyncFree(ac);  // no hooks set yet: nothing of ours runs
      return false;
    }
    const int rc = uv_poll_init(loop_, &poll_, ac->c.fd);
    if (rc != 0) {
      error = "cannot connect to " + describe(where) + ": " + uv_strerror(rc);
      redisAsyncFree(ac);
      return false;
    }
    poll_.data = this;
    poll_open_ = true;
    poll_events_ = 0;
    write_wanted_ = false;
    ac_ = ac;
    freeing_ = false;
    why_.clear();
    limit_reader(ac->c.reader, &budget_);
    ac->ev.data = this;
    ac->ev.addRead = [](void* data) { static_cast<Impl*>(data)->watch(UV_READABLE, true); };
    ac->ev.delRead = [](void* data) { static_cast<Impl*>(data)->watch(UV_READABLE, false); };
    ac->ev.addWrite = [](void* data) { static_cast<Impl*>(data)->want_write(true); };
    ac->ev.delWrite = [](void* data) { static_cast<Impl*>(data)->want_write(false); };
    ac->ev.cleanup = on_cleanup;
    state_ = State::connecting;
    send_handshake();
    return true;
  }

  // CLIENT SETNAME when there is a name, PING otherwise: either way the
  // connection is up only once Redis answered (not merely accepted: a
  // loading or paused Redis accepts and answers nothing).
  void send_handshake() {
    std::vector<std::string_view> argv{"PING"};
    if (!options_.client_name.empty()) argv = {"CLIENT", "SETNAME", options_.client_name};
    if (!send(argv, on_handshake_reply)) drop("cannot send the handshake");
  }

  static void on_handshake_reply(redisAsyncContext*, void* reply, void* data) {
    Impl& self = *static_cast<Impl*>(data);
    if (reply == nullptr || self.freeing_) return;  // the context is being freed
    const auto& r = *static_cast<const redisReply*>(reply);
    if (r.type == REDIS_REPLY_ERROR) {
      self.drop("handshake refused: " + std::string(text_of(&r)));
      return;
    }
    uv_timer_stop(&self.timer_);  // the connect deadline
    self.state_ = State::up;
    self.was_up_ = true;
    self.up_at_ = uv_now(self.loop_);
    ++self.stats_.connects;
    if (self.owner_wants(self.on_up_)) self.on_up_();
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

  // ---- the socket -----------------------------------------------------------------

  // The poll's events, for hiredis's addRead/delRead and want_write:
  // idempotent, as hiredis requires. (uv_poll_start cannot fail on an
  // initialised handle.)
  void watch(int event, bool on) {
    const int events = on ? (poll_events_ | event) : (poll_events_ & ~event);
    if (events == poll_events_ || !poll_open_) return;
    poll_events_ = events;
    if (events != 0) uv_poll_start(&poll_, events, on_poll);
    else uv_poll_stop(&poll_);
  }

  // hiredis's addWrite/delWrite. Once up, the commands of a loop turn are
  // written at the start of the next turn's idle phase, before the loop
  // polls again: all in one write, without asking epoll first. (Changing a
  // uv_poll's events costs libuv an EPOLL_CTL_DEL and an ADD, and the
  // writable event one more epoll_wait: measured, four epoll_ctl for each
  // command sent alone, as a rooms load's says are.) An idle handle rather
  // than a prepare handle: a command queued while the loop runs its prepare
  // handles (the hub's end of turn) still goes out before the loop blocks,
  // since an active idle handle makes that poll return at once. The socket
  // is watched for writability only while connecting (the handshake) and
  // after a write the kernel took only part of.
  void want_write(bool on) {
    write_wanted_ = on;
    if (!on) {
      watch(UV_WRITABLE, false);
    } else if (state_ != State::up || flushing_ || (poll_events_ & UV_WRITABLE)) {
      watch(UV_WRITABLE, true);
    } else {
      uv_idle_start(&soon_, on_soon);
    }
  }

  static void on_soon(uv_idle_t* handle) {
    Impl& self = *static_cast<Impl*>(handle->data);
    uv_idle_stop(handle);
    if (!self.write_wanted_ || self.ac_ == nullptr || self.freeing_ || (self.poll_events_ & UV_WRITABLE)) return;
    self.flushing_ = true;
    redisAsyncHandleWrite(self.ac_);  // may free the context; on a partial write, addWrite again
    self.flushing_ = false;
  }

  static void on_poll(uv_poll_t* handle, int status, int events) {
    Impl& self = *static_cast<Impl*>(handle->data);
    if (self.ac_ == nullptr || self.freeing_) return;
    if (status < 0) {
      // libuv reports a socket error (POLLERR) as a poll error: say which.
      const std::string error = socket_error(self.ac_->c.fd);
      self.drop(self.ending(error.empty() ? std::string("poll failed: ") + uv_strerror(status) : error));
      return;
    }
    if (events & UV_READABLE) self.read_available();
    if ((events & UV_WRITABLE) && self.ac_ && !self.freeing_) redisAsyncHandleWrite(self.ac_);
  }

  // One readable event reads until the socket is empty, up to
  // max_reads_per_event of hiredis's 16 KiB reads. A burst of pub/sub
  // messages bigger than one read (a publisher's 64 pipelined says come back
  // as ~16 KiB) then reaches the hub in one loop turn and goes out to each
  // recipient in one write, instead of one flush to everyone per 16 KiB.
  // Bounded so that a firehose cannot keep the rest of the loop waiting.
  // Asking the socket what is left costs a system call, so it is asked only
  // after a read whose messages came near hiredis's 16 KiB (a quiet
  // channel's one message a read asks nothing).
  void read_available() {
    for (int i = 0; i < max_reads_per_event; ++i) {
      message_bytes_ = 0;
      redisAsyncHandleRead(ac_);  // may free the context
      if (ac_ == nullptr || freeing_ || message_bytes_ < read_nearly_full) return;
      int unread = 0;
      if (ioctl(ac_->c.fd, FIONREAD, &unread) != 0 || unread <= 0) return;
    }
  }
  static constexpr int max_reads_per_event = 8;
  static constexpr std::size_t read_nearly_full = 12 * 1024;
  std::size_t message_bytes_ = 0;  // of the pub/sub messages the current read held

  // Ends the current context with `why` (unless a reason came first). Safe
  // anywhere, inside hiredis's callbacks included: redisAsyncFree waits for
  // the callback to return. The owner hears of it from end_connection.
  void drop(const std::string& why) {
    if (why_.empty()) why_ = why;
    if (ac_ == nullptr || freeing_) return;
    freeing_ = true;
    redisAsyncFree(ac_);
  }

  // hiredis's ev.cleanup: the context is being freed (by us or by hiredis);
  // its descriptor closes right after this returns.
  static void on_cleanup(void* data) {
    Impl& self = *static_cast<Impl*>(data);
    if (self.why_.empty()) self.why_ = self.hiredis_reason();
    if (self.was_up_) uv_timer_stop(&self.timer_);  // the oldest command's deadline no longer matters
    self.ac_ = nullptr;
    self.freeing_ = false;
    self.write_wanted_ = false;
    uv_idle_stop(&self.soon_);
    self.state_ = State::closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&self.poll_), on_poll_closed);  // stops polling first
  }

  // Why hiredis itself ended the context (a read or write error, EOF, a
  // failed connect, a reader error).
  std::string hiredis_reason() const { return ending(ac_->c.errstr[0] ? ac_->c.errstr : "connection closed"); }

  // Why the context ends, from what the socket said.
  std::string ending(const std::string& detail) const {
    if (state_ == State::connecting)
      return "cannot connect to " + describe(candidates_[next_candidate_ - 1]) + ": " + detail;
    return "connection lost: " + detail;
  }

  static void on_poll_closed(uv_handle_t* handle) {
    Impl& self = *static_cast<Impl*>(handle->data);
    self.poll_open_ = false;
    self.end_connection();
  }

  // The context is gone and its handle closed: fail what waited, tell the
  // owner, and go on (the next address, a retry, or finishing stop()).
  void end_connection() {
    const std::string why = std::exchange(why_, {});
    const bool was_up = std::exchange(was_up_, false);
    subscriber_ = false;
    channels_.clear();
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
      // Redis drops at once each time (an ACL refusing SUBSCRIBE, say)
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

  bool up() const { return state_ == State::up && !freeing_; }

  bool send(const std::vector<std::string_view>& argv, redisCallbackFn* fn) {
    // Most commands have a dozen arguments or fewer: point at them from the
    // stack (a batch of says has hundreds, and is one command per batch).
    constexpr std::size_t inline_args = 16;
    std::array<const char*, inline_args> inline_pointers;
    std::array<std::size_t, inline_args> inline_lengths;
    std::vector<const char*> heap_pointers;
    std::vector<std::size_t> heap_lengths;
    const char** pointers = inline_pointers.data();
    std::size_t* lengths = inline_lengths.data();
    if (argv.size() > inline_args) {
      heap_pointers.resize(argv.size());
      heap_lengths.resize(argv.size());
      pointers = heap_pointers.data();
      lengths = heap_lengths.data();
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
      pointers[i] = argv[i].data();
      lengths[i] = argv[i].size();
    }
    return redisAsyncCommandArgv(ac_, fn, this, static_cast<int>(argv.size()), pointers, lengths) == REDIS_OK;
  }

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

  bool command(const std::vector<std::string_view>& argv, Callback done) {
    if (argv.empty() || routed_apart(argv[0]) || subscriber_) {
      ++stats_.refused;
      return false;
    }
    if (!can_send()) return false;
    if (!send(argv, on_command_reply)) {
      ++stats_.refused;
      return false;
    }
    track(InFlight::Kind::command, std::move(done), {});
    return true;
  }

  bool subscribe(std::string_view channel, Callback done) {
    if (!can_send()) return false;
    if (!send({"SUBSCRIBE", channel}, on_pubsub_reply)) {
      ++stats_.refused;
      return false;
    }
    subscriber_ = true;
    channels_.emplace(channel);
    track(InFlight::Kind::subscribe, std::move(done), channel);
    return true;
  }

  bool unsubscribe(std::string_view channel) {
    const auto found = channels_.find(channel);
    if (found == channels_.end() || !can_send()) return false;
    if (!send({"UNSUBSCRIBE", channel}, on_pubsub_reply)) {
      ++stats_.refused;
      return false;
    }
    channels_.erase(found);
    track(InFlight::Kind::unsubscribe, {}, channel);
    return true;
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
    if (owner_wants(on_latency_)) on_latency_(static_cast<std::int64_t>((uv_hrtime() - entry->sent_ns) / 1000));
    return entry;
  }

  RedisReply copy(const redisReply* reply) const {
    return copy_read_reply(reply, budget_, options_.reply_limits);
  }

  static void on_command_reply(redisAsyncContext*, void* reply, void* data) {
    Impl& self = *static_cast<Impl*>(data);
    if (reply == nullptr || self.freeing_) return;  // being freed: end_connection fails it
    const auto* r = static_cast<const redisReply*>(reply);
    std::optional<InFlight> entry = self.take_front(InFlight::Kind::command, {});
    if (entry && self.owner_wants(entry->done)) entry->done(self.copy(r));
  }

  // Every reply hiredis routes by channel: our subscribe and unsubscribe
  // confirmations, and the messages. Messages are handed over as views into
  // hiredis's reply, never copied.
  static void on_pubsub_reply(redisAsyncContext*, void* reply, void* data) {
    Impl& self = *static_cast<Impl*>(data);
    if (reply == nullptr || self.freeing_) return;
    const auto* r = static_cast<const redisReply*>(reply);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const std::string_view kind = text_of(r->element[0]);
    const std::string_view channel = text_of(r->element[1]);
    if (kind == "message") {
      self.message_bytes_ += text_of(r->element[2]).size() + channel.size() + 32;  // + the reply's framing
      if (self.owner_wants(self.on_message_) && self.channels_.contains(channel)) self.on_message_(channel, text_of(r->element[2]));
      return;
    }
    const auto expected = kind == "subscribe"     ? InFlight::Kind::subscribe
                          : kind == "unsubscribe" ? InFlight::Kind::unsubscribe
                                                  : InFlight::Kind::command;
    if (expected == InFlight::Kind::command) return;  // pmessage and the like: never asked for
    std::optional<InFlight> entry = self.take_front(expected, channel);
    if (entry && self.owner_wants(entry->done)) entry->done(self.copy(r));
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
