// A fixed set of connections that are opened, greeted and subscribed
// before anything is measured (every scenario but connect). Opening is
// paced: at most --connect-concurrency connections are being set up at
// once, so a 10,000-connection run does not overflow the server's backlog.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loader.hpp"
#include "options.hpp"
#include "result.hpp"

namespace parley::bench {

class Population : public Loader {
 public:
  Population(const Options& options, const Protocol& protocol, std::size_t count);

 protected:
  // Opens every connection and waits until each has its acks. Throws
  // std::runtime_error when that takes longer than --setup-timeout.
  void set_up();
  // Requests to send after the greeting; each must be acked once.
  virtual void subscriptions(Conn& conn) = 0;
  // Called for frames once set-up is over.
  virtual void on_traffic_frame(Conn& conn, const Frame& frame) = 0;

  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const Frame& frame) override;
  void on_closed(Conn& conn, std::string_view why) override;
  void on_reconnect_due(Conn& conn) override;

  std::string nick_of(std::size_t i) const;
  std::string channel_of(std::size_t group) const;

  std::vector<std::unique_ptr<Conn>> conns_;
  Correctness correctness_;
  bool setting_up_ = true;

 private:
  // --reconnect: a `shutdown` or `shutting_down` schedules the reconnect; true when it was one.
  bool leaving(Conn& conn, const Frame& frame);

  std::size_t opened_ = 0;
  std::size_t ready_ = 0;  // connections with Conn::ready
  std::string tag_;
};

}  // namespace parley::bench
