// Catching up after a resumed `hello`: for each channel whose `seq` moved on
// since the client's mark (or whose `epoch` changed, meaning the old numbers
// name nothing any more), `history` pages after the mark, shown once as
// normal message lines under a "-- missed while disconnected --" line. Live
// messages that arrive meanwhile are held and shown after the pages, so the
// screen stays in `seq` order with no duplicate. Pure: the caller sends the
// requests and prints the text.
#pragma once

#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "parley/client/client.hpp"
#include "parley/client/marks.hpp"

namespace parley::client {

class Catchup {
 public:
  static constexpr int page_limit = 500;          // the most `history` gives at once
  static constexpr std::size_t max_held = 10000;  // live messages kept while paging

  // `channels`: the `hello` reply's [{channel, seq, epoch}]. A channel with
  // no mark, or with another epoch, is caught up from its start.
  void start(const json& channels, Marks& marks);
  bool active() const { return !todo_.empty(); }
  // The next `history` request (without id); nullopt once all is caught up.
  std::optional<json> next_request(const Marks& marks) const;
  // The reply to the last request: what to print. Moves the marks.
  std::string on_page(const json& reply, Marks& marks, const Session& session, std::time_t now);
  // Keeps a live channel `message` event while paging; false when the
  // caller is to show it now instead.
  bool hold(const json& event);
  // The messages held, once no longer active.
  std::vector<json> take_held();

 private:
  struct Target {
    std::string channel;
    std::uint64_t seq;  // the channel's latest seq when the session resumed
    bool told = false;  // the "missed" line is out
  };
  std::string show_page(const json& messages, Target& target, Marks& marks, const Session& session,
                        std::time_t now);

  std::deque<Target> todo_;
  std::vector<json> held_;
};

}  // namespace parley::client
