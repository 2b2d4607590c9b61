// The chat core: users, nicks, channels, topics, seq numbers and history.
//
// Plain C++ with no sockets, no JSON and no clock of its own: a typed request
// from connection X goes in with the time; a typed reply for X and the
// deliveries (recipients + event) come out (outcome.hpp). The hub has each
// event written once and queues the same bytes for every recipient.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parley/chat/command.hpp"
#include "parley/chat/limits.hpp"
#include "parley/chat/message_log.hpp"
#include "parley/chat/outcome.hpp"
#include "parley/chat/request_gate.hpp"
#include "parley/chat/session_token.hpp"
#include "parley/chat/token_bucket.hpp"

namespace parley {

struct ServerInfo {
  std::string name = "parley";
  std::string version;
  // Makes channel epochs differ between server lives (start time, randomness).
  std::string epoch_prefix = "e";
  // When set, `hello` must carry this `token` (else `auth_failed`).
  std::optional<std::string> auth_token;
  // hello's server.node and server.features.
  std::string node = "parley";
  std::vector<std::string> features = {"resume"};
  // How long a session whose connection closed without `quit` is held for
  // a resume (--resume-grace); 0 ends it at once, as a `quit`.
  std::int64_t resume_grace_ms = 0;
  // Held sessions at most (--max-held): each keeps its nick and its
  // channels, and nothing else bounds how many a client that connects,
  // registers and drops again and again leaves behind within one grace.
  // Past it the oldest held one ends at once, as if its grace had run out.
  std::size_t max_held_sessions = 100000;
};

class Core {
 public:
  Core(Limits limits, ServerInfo info);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // A session exists from accept to close; it is registered by `hello`.
  // Every request, valid or not, takes a token of the session's rate limit
  // (Limits::rate); without one it is answered `rate_limited` and not run.
  void connect(ConnId conn);
  // The request is taken by value: a message's text moves into its event.
  Outcome handle(ConnId conn, ChatRequest request, std::int64_t now_ms);
  // The connection is gone. A registered session is held for
  // resume_grace_ms (no event to anyone: it keeps its nick and channels);
  // without a grace, or for a session never registered, it ends now:
  // `quit` {nick, reason} to everyone sharing a channel.
  Outcome disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms = 0);
  // Ends the held sessions whose grace is over by `now_ms`: their `quit`s,
  // with the reason their connection closed for.
  Outcome expire(std::int64_t now_ms);
  // When the next held session's grace runs out; nullopt when none is held.
  std::optional<std::int64_t> next_expiry() const;
  std::size_t held_count() const { return held_count_; }

  // Read-only views for tests, invariant checks and the shell's logs.
  std::size_t session_count() const { return sessions_.size(); }
  // The first broken invariant of the chat state, or "" when all hold: the
  // nick table and the sessions agree; every member of a channel lists the
  // channel and every channel a user lists has the user as a member; no
  // channel is empty; histories are within their bound; each channel's
  // cached member list matches its members. For tests and fuzzing: O(state).
  std::string check_invariants() const;
  std::size_t user_count() const { return nicks_.size(); }
  std::size_t channel_count() const { return channels_.size(); }
  std::optional<std::string> nick_of(ConnId conn) const;
  // The channels `conn` is in, as first named, in the order joined.
  std::vector<std::string> channels_of(ConnId conn) const;
  const Limits& limits() const { return limits_; }

 private:
  struct Channel;

  struct User {
    ConnId conn = 0;
    std::string nick;  // as typed; empty until `hello`
    std::string key;   // fold(nick)
    std::vector<Channel*> channels;
    std::uint64_t mark = 0;  // dedup stamp for "everyone sharing a channel"
    GateState gate;                      // its rate limit
    ConnList alone;  // just this connection: the recipients of a `msg` to it
    SessionToken session;                // its resume token, once registered
    bool held = false;                   // its connection is gone; awaiting a resume
    std::int64_t held_until = 0;         // which entry of held_ is this hold's
  };

  struct Channel {
    Channel(std::string key_, std::string name_, std::string epoch_, std::size_t history)
        : key(std::move(key_)), name(std::move(name_)), epoch(std::move(epoch_)), log(history) {}
    std::string key;   // fold(name): its key in channels_
    std::string name;  // as first created
    std::optional<std::string> topic;
    std::map<std::string, User*> members;  // by folded nick: already sorted
    ConnList everyone;  // members' connections, held ones skipped; null after a change, rebuilt when needed
    std::uint64_t seq = 0;
    std::string epoch;
    MessageLog log;
  };

  class Handler;

  Welcome welcome(const User& user, bool resumed) const;
  User* resumable(std::string_view token, const std::string& nick_key);
  void take_over(ConnId conn, User& session, Outcome& out);
  Outcome end_session(ConnId conn, std::string_view reason);
  Outcome end_oldest_hold();

  Channel* find_channel(std::string_view name);
  bool is_member(const Channel& channel, const User& user) const;
  void leave(User& user, Channel& channel);
  Recipients neighbours(const User& user);
  Recipients others_in(Channel& channel, const User& except) const;
  std::vector<std::string> member_list(const Channel& channel) const;
  std::string next_epoch();

  Limits limits_;
  ServerInfo info_;
  // Every session by its connection; a held one under the connection it had
  // (ids are never reused: session_table.hpp). A held session is in no
  // recipient list: its channels' lists skip it, its `alone` is empty.
  std::unordered_map<ConnId, User> sessions_;
  std::unordered_map<SessionToken, ConnId, SessionTokenHash> by_token_;  // resume token -> session
  // Held sessions in the order their grace ends (the grace is one length for
  // all); an entry whose session resumed or ended since is skipped.
  struct Hold {
    std::int64_t until;
    ConnId conn;
    std::string reason;  // the `quit` reason if the grace runs out
  };
  std::deque<Hold> held_;
  std::size_t held_count_ = 0;
  std::unordered_map<std::string, User*> nicks_;  // folded nick -> registered user
  std::map<std::string, Channel> channels_;       // folded name -> channel, sorted
  std::uint64_t mark_counter_ = 0;
  std::uint64_t epoch_counter_ = 0;
};

}  // namespace parley
