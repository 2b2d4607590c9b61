// A fixed set of connections that are opened, greeted and subscribed
// before anything is measured (every scenario but connect). Opening is
// paced: at most --connect-concurrency connections are being set up at
// once, so a 10,000-connection run does not overflow the server's backlog.
//
// Every request a connection sends is remembered (Conn::requests) until its
// reply comes: replies come in request order, so each answers the oldest.
// With --reconnect, a connection told to go (or lost) comes back to the next
// --server and, when the protocol has sessions (Parley), resumes the one it
// had with `hello` and `resume`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loader.hpp"
#include "options.hpp"
#include "parley_replies.hpp"
#include "result.hpp"

namespace parley::bench {

class Population : public Loader {
 public:
  Population(const Options& options, const Protocol& protocol, std::size_t count);

 protected:
  // Opens every connection and waits until each is ready. Throws
  // std::runtime_error when that takes longer than --setup-timeout.
  void set_up();
  // Requests to send after the greeting, each queued with expect(conn,
  // {Request::subscribe}); the connection is ready once all are answered.
  virtual void subscriptions(Conn& conn) = 0;
  // The reply to a request the scenario sent itself (publish, history, ping).
  virtual void on_reply(Conn& conn, const Pending& request, const Frame& frame) = 0;
  // Deliveries and the events nobody else handles, once set-up is over.
  virtual void on_event(Conn& conn, const Frame& frame) = 0;
  // A subscription was answered with success (Parley: frame.line is the
  // join reply).
  virtual void on_subscribed(Conn& /*conn*/, const Frame& /*frame*/) {}
  // --reconnect: a connection that had been ready resumed its session. By
  // default it is ready again at once.
  virtual void on_resumed(Conn& conn, const Welcome& welcome);
  // --reconnect: the resume was answered `resumed: false`, so this is a
  // fresh registration. By default the subscriptions are made again.
  virtual void on_not_resumed(Conn& conn);
  // --reconnect: the connection is gone (either side closed it) and will be
  // opened again. Called before its unanswered requests are forgotten, and
  // possibly more than once per connection: must be idempotent.
  virtual void on_connection_ended(Conn& /*conn*/) {}
  // A `quit` event reached `conn` (already counted in correctness_).
  virtual void on_quit_event(Conn& /*conn*/, const Frame& /*frame*/) {}

  // Remembers a request just appended to conn.out; its reply is owed.
  void expect(Conn& conn, Pending request) {
    conn.requests.push_back(request);
    ++conn.pending_acks;
  }
  void set_ready(Conn& conn);
  // --reconnect: the counts of Result's reconnect fields.
  void report_reconnects(Result& r) const;

  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const Frame& frame) override;
  void on_closed(Conn& conn, std::string_view why) override;
  void on_reconnect_due(Conn& conn) override;

  std::string nick_of(std::size_t i) const;
  std::string channel_of(std::size_t group) const;

  std::vector<std::unique_ptr<Conn>> conns_;
  Correctness correctness_;
  bool setting_up_ = true;
  // --reconnect with a protocol that has sessions: hello replies are read
  // for their session, and reconnects resume it.
  const bool resume_sessions_;

 private:
  // --reconnect: a `shutdown` or `shutting_down` schedules the reconnect; true when it was one.
  bool leaving(Conn& conn, const Frame& frame);
  void on_setup_reply(Conn& conn, const Pending& request, const Frame& frame);
  void on_resume_reply(Conn& conn, const Frame& frame);
  void end_connection(Conn& conn);

  std::size_t opened_ = 0;
  std::size_t ready_ = 0;  // connections with Conn::ready
  std::uint64_t resumed_ = 0, not_resumed_ = 0;
  // Resumes whose connection was lost again before their answer came: the
  // server may well have resumed the session (its answer lost in the cut);
  // the next connection resumes it again.
  std::uint64_t resumes_cut_ = 0;
  std::string tag_;
};

}  // namespace parley::bench
