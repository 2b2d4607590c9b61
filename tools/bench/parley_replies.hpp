// The few Parley replies the loader reads in full, with a JSON parser: the
// hello reply (its session, and after a resume the channels' heads), the
// join reply (the channel's head and epoch) and history pages. They come
// once per connection or per catch-up page, never per delivery, so the
// parse costs nothing that matters. Each function takes the reply's line
// (Frame::line) and never throws: a line it cannot read is a reply with
// `ok` false and `error` saying why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::bench {

struct ChannelHead {
  std::string channel;
  std::uint64_t seq = 0;
  std::string epoch;
};

struct Welcome {
  bool ok = false;
  std::string error;  // the error code, or what could not be read
  std::string session;
  bool resumed = false;
  std::vector<ChannelHead> channels;  // when resumed
};

struct Joined {
  bool ok = false;
  std::string error;
  ChannelHead head;  // the channel as the server names it, its latest seq and epoch
};

struct HistoryMessage {
  std::uint64_t seq = 0;
  std::string text;
};

struct HistoryPage {
  bool ok = false;
  std::string error;
  std::string epoch;
  std::vector<HistoryMessage> messages;  // oldest first, as the server sent them
  bool truncated = false;
};

Welcome parse_welcome(std::string_view line);
Joined parse_joined(std::string_view line);
HistoryPage parse_history(std::string_view line);

// Channel names compare ASCII-case-insensitively (protocol.md, "Names").
bool same_channel(std::string_view a, std::string_view b);

}  // namespace parley::bench
