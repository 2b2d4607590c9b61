// The chat state of a cluster: a Backend (hub/backend.hpp) whose truth is
// in Redis. Every state change and every read is one function of
// src/cluster/parley.lua, answered when it returns (Hub::answer); what it
// publishes comes back as pub/sub messages on the same connection and is
// fanned out here to this server's members, the event's bytes as the
// function wrote them.
//
// What this server keeps: its own connections (nick, session, the channels
// each is in, the rate limit) and, per channel it has members in, a
// LocalChannel (subscription, feed, who receives). docs/cluster.md has the
// data model, the guarantees and the failure modes.
//
// Re-entrancy: every hub call from here (answer, push, deliver_line,
// end_session) runs from a loop callback (a reply, a message, a timer, the
// end of a loop turn), never inside a hub call.
//
// Says are not sent as they come: each channel's says of one loop turn go
// to Redis as one parley_says call when the turn ends (SayBatches), and a
// session's other requests send its waiting says first, so Redis still
// runs each session's requests in the order they came.
//
// Its code, by what it owns: cluster_backend.cpp (requests in, answers out,
// in order), backend_sessions.cpp (hello, resume, nick, msg, quit, a
// close's hold, the expire sweep, the lease), backend_channels.cpp (join, part, topic, list, members, history
// and the local channels), backend_says.cpp (says: batched, stored,
// answered), backend_bus.cpp (what Redis publishes, resubscribing, gap
// repairs).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "parley/chat/core.hpp"
#include "parley/chat/request_gate.hpp"
#include "parley/cluster/backplane.hpp"
#include "parley/cluster/channel_feed.hpp"
#include "parley/cluster/local_channel.hpp"
#include "parley/cluster/redis_connection.hpp"
#include "parley/cluster/say_batches.hpp"
#include "parley/hub/backend.hpp"

struct uv_loop_s;
struct uv_timer_s;
struct uv_check_s;
struct uv_idle_s;

namespace parley {
class Hub;
}

namespace parley::cluster {

struct ClusterConfig {
  RedisOptions redis;
  std::string prefix = "parley";
  std::int64_t node_lease_ms = 10000;
  std::uint64_t retry_ms = 1000;      // what `unavailable` tells clients
  std::size_t max_held = 10000;       // messages a channel's feed holds during a repair
  std::size_t expire_batch = 100;     // held sessions one expire call ends
  std::size_t say_batch = 64;         // says of one turn for one channel in one parley_says call
  std::size_t say_batch_bytes = 65536;  // ... sent at once when their arguments reach this
};

// What /metrics shows of the backplane.
struct ClusterStats {
  std::uint64_t gap_repairs = 0;   // holes filled from history
  std::uint64_t gaps_sent = 0;     // `gap` events (per channel, not per member)
  std::uint64_t lease_lost = 0;    // times this node found it had been declared lost
  std::uint64_t unavailable = 0;   // requests answered `unavailable`
};

class ClusterBackend final : public Backend {
 public:
  ClusterBackend(uv_loop_s* loop, ClusterConfig config, Limits limits, ServerInfo info);
  ~ClusterBackend() override;

  // The hub it answers; before start().
  void bind(Hub& hub) { hub_ = &hub; }
  void start();
  // Gives up the lease (so the others need not wait for it to run out),
  // then closes the connections; `on_closed` runs after.
  void stop(std::function<void()> on_closed);

  void connect(ConnId conn) override;
  std::optional<Outcome> handle(ConnId conn, ChatRequest request, std::int64_t now_ms) override;
  Outcome disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) override;
  Outcome expire(std::int64_t now_ms) override;
  std::optional<std::int64_t> next_expiry() const override { return std::nullopt; }
  SessionView view(ConnId conn) const override;
  ChatSizes sizes() const override;
  std::string_view unready() const override;
  // Functions go out in order on one connection and come back in order, so
  // a registered session's requests pipeline, except while one must finish
  // before the next may be sent (hello, nick: what follows names the
  // session by its nick; a join waiting for its subscription).
  bool pipelines(ConnId conn) const override;

  const std::string& node() const { return node_; }
  const ClusterStats& stats() const { return stats_; }
  const Backplane& backplane() const { return backplane_; }
  // Each backplane command's time, send to reply (the metrics' histogram).
  void on_latency(std::function<void(std::int64_t micros)> handler) { backplane_.on_latency(std::move(handler)); }

 private:
  // A say sent to Redis and not yet answered: its ok needs both the
  // function's reply (stored) and its message back (answered first when
  // the message wins the race).
  struct PendingSay {
    std::uint64_t ticket;
    std::string key;            // its channel
    std::int64_t ts;
    std::uint64_t seq;          // once known
    bool stored;                // the function's reply came
    bool answered;              // its ok went out
    std::int64_t stored_ms;     // loop time the reply came (for the stale bound)
  };
  struct User {
    ConnId conn = 0;
    GateState gate;
    std::string nick;          // once registered
    std::string key;           // fold(nick)
    std::string session;       // its resume token, as text
    bool registered = false;
    bool blocking = false;     // a hello, a nick, or a join waiting for its subscription, is under way
    // Deferred requests, numbered as they came; answers go to the hub in
    // that order, one that is ready early waits in `early`.
    std::uint64_t tickets = 0;
    std::uint64_t answered = 0;
    struct Early {
      Outcome outcome;
      std::function<void()> after;  // runs once the answer went to the hub
    };
    std::map<std::uint64_t, Early> early;
    std::vector<PendingSay> says;  // in the order sent
    std::vector<std::string> channels;  // keys of the channels it is in
  };

  // Requests: each sends its function (false when it could not) and
  // answers from the reply.
  // The answer to the request numbered `ticket` (User::tickets); `after`
  // runs right after the hub took it (or the session is gone).
  void complete(ConnId conn, std::uint64_t ticket, Outcome outcome, std::function<void()> after = {});
  // ... to the request that blocked the session's pipeline.
  void complete_blocking(ConnId conn, std::uint64_t ticket, Outcome outcome, std::function<void()> after = {});
  void admit_member(ConnId conn, const std::string& key, std::uint64_t head);
  void catch_up(LocalChannel& channel, ConnId conn, std::uint64_t from, std::uint64_t to);
  static Outcome failure(ErrorCode code, std::string message);
  Outcome unavailable();
  Outcome gone(User& user);
  Outcome channel_error(const RedisReply& reply, const std::string& typed, User& user);
  User* succeeded(ConnId conn, std::uint64_t ticket, const std::string& typed, const RedisReply& reply);
  bool call(std::string_view function, const std::vector<std::string_view>& args, RedisConnection::Callback done);
  std::string owner(ConnId conn) const { return node_ + "/" + std::to_string(conn); }
  bool hello(User& user, const Hello& c);
  void welcome_resumed(ConnId conn, std::uint64_t ticket, const RedisReply& reply, std::optional<ConnId> replaced);
  bool nick(User& user, const NickCmd& c);
  bool join(User& user, const Join& c);
  void joined(ConnId conn, std::uint64_t ticket, const std::string& key, const RedisReply& reply, bool unblock);
  bool part(User& user, const Part& c);
  bool say(User& user, Say& c, std::int64_t now);
  void send_says(std::string key);
  void send_says_of(ConnId conn);
  void send_all_says();
  void says_answered(const std::vector<SayBatches::Say>& says, const RedisReply& reply);
  void said(const SayBatches::Say& say, const RedisReply& result);
  void arm_flush();
  static void on_flush_check(uv_check_s* check);
  void say_stored(User& user, std::uint64_t ticket, std::uint64_t seq);
  void say_delivered(LocalChannel& channel, std::uint64_t seq, ConnId sender, std::optional<std::uint64_t> tag);
  void says_lost(LocalChannel& channel, std::uint64_t from, std::uint64_t to);
  void answer_say(User& user, std::vector<PendingSay>::iterator say);
  void forget_say(User& user, std::uint64_t ticket);
  void answer_stale_says();
  bool msg(User& user, Msg& c, std::int64_t now);
  bool topic(User& user, const TopicCmd& c);
  bool list(User& user);
  struct ListRead {
    ListReply reply;
    std::unordered_set<std::string> seen;  // channel keys listed so far
  };
  static constexpr std::size_t list_page = 1000;  // channels per call at most
  bool read_list_page(ConnId conn, std::uint64_t ticket, std::shared_ptr<ListRead> read, const std::string& cursor,
                      std::uint64_t offset);
  bool members(User& user, const Members& c);
  bool history(User& user, const History& c);
  // A `history` read a page at a time (page_entries), the pages joined
  // into one reply.
  struct HistoryRead {
    History request;
    HistoryReply reply;
    std::uint64_t latest = 0, oldest = 0;  // as the first page found them
    bool started = false;
  };
  bool read_history_page(ConnId conn, std::uint64_t ticket, std::shared_ptr<HistoryRead> read,
                         std::optional<std::uint64_t> before, std::optional<std::uint64_t> after, std::size_t most);
  void finish_history(ConnId conn, std::uint64_t ticket, HistoryRead& read);
  bool quit(User& user, const Quit& c);
  void end_remotely(const std::string& key, const std::string& owner_text, const std::string& nick,
                    std::string_view reason, bool hold, std::int64_t now);

  // Channels this server has members in
  LocalChannel& channel(const std::string& key);
  // Runs `then` once the channel is subscribed (now, if it is). False, and
  // `then` never runs, when the SUBSCRIBE could not be sent.
  bool subscribe(LocalChannel& channel, std::function<void(bool ok)> then);
  void forget(User& user);
  void leave_locally(User& user, const std::string& key);
  void maybe_unsubscribe(const std::string& key);
  void resubscribe_all();
  void resubscribe(const std::string& key);
  // Subscriptions to restore that could not be sent while the connection
  // stayed up (--cluster-max-in-flight was reached: a server in more
  // channels than that): sent again on the lease ticks until Redis has them.
  std::vector<std::string> resubscribe_later_;
  void retry_resubscribes();
  void read_heads(const std::vector<std::string>& keys);

  // The backplane's side
  void on_message(std::string_view channel, std::string_view payload);
  void on_channel_message(LocalChannel& channel, std::string_view payload);
  void on_users_message(std::string_view payload);
  void on_node_message(std::string_view payload);
  void on_ready();
  void on_unready(std::string_view why);
  void repair(const std::string& key, std::uint64_t from, std::uint64_t to, unsigned attempt = 0);
  void read_repair_page(const std::string& key, std::uint64_t from, std::uint64_t to, std::uint64_t next,
                        unsigned attempt, std::shared_ptr<std::vector<ChannelFeed::Repaired>> found);
  // Reads of a repair that got no reply (a timeout, a dropped connection)
  // before its hole is called a gap: the history may well still hold it,
  // and a gap is for what it no longer does. Retried after the backoff or
  // on the next lease tick, meanwhile the feed holds what comes (bounded).
  static constexpr unsigned repair_attempts = 5;
  // Entries per page of a repair's read: at the default --max-text, under
  // half a megabyte a reply.
  static constexpr std::size_t repair_page = 100;
  // History entries one reply may carry at most, `most` or fewer: a page
  // stays within page_bytes however large --max-text is. Redis counts a
  // reply against the connection's pub/sub output limit (32 MiB by default)
  // and our reader bounds one at 64 MiB; past either the connection is cut,
  // for every session of this server, by one client's `history`.
  static constexpr std::size_t page_bytes = 4u << 20;
  std::size_t page_entries(std::size_t most) const {
    return std::clamp<std::size_t>(page_bytes / (limits_.max_text + 256), 1, most);
  }
  void retry_repairs();
  void send_gap(LocalChannel& channel, std::uint64_t from, std::uint64_t to);
  // A channel feed's side effects (ChannelFeed::Sink) for one channel, on
  // this backend: deliver to its members here, send a gap, repair.
  class FeedSink final : public ChannelFeed::Sink {
   public:
    FeedSink(ClusterBackend& backend, LocalChannel& channel) : backend_(backend), channel_(channel) {
      ++channel_.feeding;
    }
    ~FeedSink() override { --channel_.feeding; }
    FeedSink(const FeedSink&) = delete;
    FeedSink& operator=(const FeedSink&) = delete;
    void deliver(std::uint64_t seq, std::string_view owner, std::string_view line) override;
    void gap(std::uint64_t from, std::uint64_t to) override;
    void repair(std::uint64_t from, std::uint64_t to) override;

   private:
    ClusterBackend& backend_;
    LocalChannel& channel_;
  };

  // The lease
  void renew_lease();
  void reclaim_sessions();
  static void on_lease_timer(uv_timer_s* timer);

  ClusterConfig config_;
  Limits limits_;
  ServerInfo info_;
  std::string node_;           // --node-id plus this process's random suffix
  std::string users_channel_;  // P:users
  std::string node_channel_;   // P:to:NODE
  std::string channel_prefix_; // "P:{c:"
  Backplane backplane_;
  Hub* hub_ = nullptr;
  std::unordered_map<ConnId, User> users_;
  std::unordered_map<std::string, ConnId> by_key_;  // registered nick key -> its local connection
  std::map<std::string, LocalChannel> channels_;
  ClusterStats stats_;
  std::uint64_t epoch_counter_ = 0;
  bool expire_in_flight_ = false;
  std::size_t held_ = 0;  // sessions held in the whole cluster, as of the last sweep
  bool lease_first_ = true;
  bool lease_in_flight_ = false;
  std::int64_t lease_renewed_ = 0;  // loop time the last renewal was asked at
  bool lease_stale_ = false;        // not renewed for 2/3 of the lease: not speaking for anyone
  // Set by the first on_ready. Until then the server answers everything
  // unavailable: a hello taken before the server's own channels are
  // subscribed would leave a session its joins cannot serve, and
  // one taken before the first lease call would name a node with no lease.
  bool served_ = false;
  std::unique_ptr<uv_timer_s> lease_timer_;
  // Says waiting for the end of the turn. The check handle sends them after
  // the poll phase; the idle handle, started with it, keeps that poll from
  // blocking when they were queued before it (timers, the hub's
  // before-sleep work). Both run only while something waits.
  SayBatches says_;
  std::vector<SayBatches::Say> unsent_says_;  // their call could not be sent: answered unavailable there
  std::unique_ptr<uv_check_s> flush_check_;
  std::unique_ptr<uv_idle_s> flush_idle_;
  bool flush_armed_ = false;  // the handles run (or are closed: stop())
  // Sessions that ended while Redis could not be told: told when it is back.
  struct Orphan {
    std::string key, owner, line;
    std::string until;  // a hold's end (wall ms), or empty for a quit
  };
  // A session's end Redis could not be told of (its hold or its quit):
  // told once the backplane is back, or kept while that cannot be sent.
  bool end_in_redis(const Orphan& end);
  void remember(Orphan end);  // at most max_orphans
  void retry_orphans();
  static constexpr std::size_t max_orphans = 100000;
  std::vector<Orphan> orphans_;
  struct RepairLater {
    std::string key;
    std::uint64_t from, to;
    unsigned attempt;
  };
  std::vector<RepairLater> repairs_later_;
  std::string unready_why_ = "backplane connecting";
};

}  // namespace parley::cluster
