#include "parley/chat/core.hpp"

#include <algorithm>

#include "parley/chat/names.hpp"
#include "parley/chat/request_gate.hpp"
#include "parley_version.h"

namespace parley {
// Runs one command for one user; one method per command.
class Core::Handler {
 public:
  Handler(Core& core, User& user, std::int64_t now, Outcome& out)
      : core_(core), user_(user), now_(now), out_(out) {}

  void operator()(const Hello& c) {
    if (!user_.nick.empty()) return fail(ErrorCode::already_registered, "already registered");
    if (core_.info_.auth_token && c.token != core_.info_.auth_token)
      return fail(ErrorCode::auth_failed, "missing or wrong token");
    std::string key = fold(c.nick);
    // A resume naming no such session is no error: a fresh registration.
    if (c.resume && (resume_target_ = core_.resumable(*c.resume, key))) return;
    if (core_.nicks_.count(key)) return fail(ErrorCode::nick_in_use, "nick is in use");
    user_.nick = c.nick;
    user_.key = std::move(key);
    user_.session = new_session_token();
    core_.nicks_.emplace(user_.key, &user_);
    core_.by_token_.emplace(user_.session, user_.conn);
    out_.reply = core_.welcome(user_, false);
  }

  void operator()(const NickCmd& c) {
    std::string key = fold(c.nick);
    if (key != user_.key && core_.nicks_.count(key))
      return fail(ErrorCode::nick_in_use, "nick is in use");
    if (c.nick != user_.nick) rename(c.nick, std::move(key));
    out_.reply = NickReply{user_.nick};
  }

  void operator()(const Join& c) {
    Channel* channel = core_.find_channel(c.channel);
    if (!channel || !core_.is_member(*channel, user_)) {
      if (user_.channels.size() >= core_.limits_.max_channels)
        return fail(ErrorCode::too_many_channels,
                    "already in " + std::to_string(core_.limits_.max_channels) + " channels");
      if (!channel) channel = &create_channel(c.channel);
      deliver(core_.others_in(*channel, user_), Joined{channel->name, user_.nick});
      channel->members.emplace(user_.key, &user_);
      channel->everyone.reset();
      user_.channels.push_back(channel);
    }
    out_.reply = JoinReply{channel->name, channel->topic, core_.member_list(*channel), channel->seq,
                           channel->epoch};
  }

  void operator()(const Part& c) {
    Channel* channel = member_channel(c.channel);
    if (!channel) return;
    PartReply reply{channel->name};
    Parted e{channel->name, user_.nick, c.reason};
    Recipients remaining = core_.others_in(*channel, user_);
    core_.leave(user_, *channel);  // may destroy the channel
    deliver(std::move(remaining), std::move(e));
    out_.reply = std::move(reply);
  }

  void operator()(Say& c) {
    Channel* channel = member_channel(c.channel);
    if (!channel) return;
    const std::uint64_t seq = ++channel->seq;
    channel->log.append(seq, now_, user_.nick, c.text);
    deliver(core_.others_in(*channel, user_),
            ChatMessage{channel->name, user_.nick, {}, std::move(c.text), seq, now_});
    out_.reply = ChatAck{channel->name, {}, seq, now_};
  }

  void operator()(Msg& c) {
    auto it = core_.nicks_.find(fold(c.to));
    if (it == core_.nicks_.end()) return fail(ErrorCode::no_such_nick, "no user with that nick");
    User& target = *it->second;
    // Skipping the sender (who is not the target, unless writing to itself)
    // lets consecutive messages from one user to another share a batch.
    const ConnId skip = target.conn == user_.conn ? 0 : user_.conn;
    deliver({target.alone, skip}, ChatMessage{{}, user_.nick, target.nick, std::move(c.text), 0, now_});
    out_.reply = ChatAck{{}, target.nick, 0, now_};
  }

  void operator()(const TopicCmd& c) {
    Channel* channel = nullptr;
    if (c.topic) {
      channel = member_channel(c.channel);
      if (!channel) return;
      channel->topic = c.topic->empty() ? std::nullopt : c.topic;
      deliver(core_.others_in(*channel, user_), TopicSet{channel->name, user_.nick, channel->topic});
    } else {
      channel = existing_channel(c.channel);
      if (!channel) return;
    }
    out_.reply = TopicReply{channel->name, channel->topic};
  }

  void operator()(const List&) {
    ListReply reply;
    reply.channels.reserve(core_.channels_.size());
    for (const auto& [key, channel] : core_.channels_)
      reply.channels.push_back({channel.name, channel.members.size(), channel.topic});
    out_.reply = std::move(reply);
  }

  void operator()(const Members& c) {
    Channel* channel = existing_channel(c.channel);
    if (!channel) return;
    out_.reply = MembersReply{channel->name, core_.member_list(*channel)};
  }

  void operator()(const History& c) {
    Channel* channel = member_channel(c.channel);
    if (!channel) return;
    const MessageLog::Page page = channel->log.query(c.before, c.after, c.limit, channel->seq);
    HistoryReply reply{channel->name, channel->epoch, {}, page.truncated};
    reply.messages.reserve(page.messages.size());
    for (const LoggedMessage* m : page.messages) reply.messages.push_back(*m);
    out_.reply = std::move(reply);
  }

  void operator()(const Ping&) { out_.reply = OkReply{}; }

  void operator()(const Quit& c) {
    out_.reply = OkReply{};
    out_.close = true;
    quit_reason_ = c.reason.value_or("quit");
  }

  std::optional<std::string> quit_reason_;
  User* resume_target_ = nullptr;  // hello resumes this session (Core::handle takes it over)

 private:
  void fail(ErrorCode code, std::string message) {
    out_.reply = ErrorReply{code, std::move(message), std::nullopt};
  }

  void deliver(Recipients to, Event e) {
    if (!to.empty()) out_.deliveries.push_back({std::move(to), std::move(e)});
  }

  Channel* existing_channel(const std::string& name) {
    Channel* channel = core_.find_channel(name);
    if (!channel) fail(ErrorCode::no_such_channel, "no channel " + name);
    return channel;
  }

  // The named channel if the user is in it; otherwise answers the error.
  // The user's own few channels are looked at first: that is every `say`,
  // and it spares the walk of the whole channel table and its member map.
  Channel* member_channel(const std::string& name) {
    for (Channel* joined : user_.channels)
      if (names_match(name, joined->key)) return joined;
    Channel* channel = existing_channel(name);
    if (channel && !core_.is_member(*channel, user_)) {
      fail(ErrorCode::not_in_channel, "not in channel " + channel->name);
      return nullptr;
    }
    return channel;
  }

  Channel& create_channel(const std::string& name) {
    std::string key = fold(name);
    auto [it, inserted] = core_.channels_.try_emplace(
        key, key, name, core_.next_epoch(), core_.limits_.history);
    return it->second;
  }

  void rename(const std::string& nick, std::string key) {
    deliver(core_.neighbours(user_), NickChanged{user_.nick, nick});
    core_.nicks_.erase(user_.key);
    for (Channel* channel : user_.channels) {
      channel->members.erase(user_.key);
      channel->members.emplace(key, &user_);
    }
    user_.nick = nick;
    user_.key = std::move(key);
    core_.nicks_.emplace(user_.key, &user_);
  }

  Core& core_;
  User& user_;
  std::int64_t now_;
  Outcome& out_;
};

Core::Core(Limits limits, ServerInfo info) : limits_(limits), info_(std::move(info)) {
  if (info_.version.empty()) info_.version = PARLEY_VERSION;
}

void Core::connect(ConnId conn) {
  User& user = sessions_.try_emplace(conn).first->second;
  user.conn = conn;
  user.alone = std::make_shared<const std::vector<ConnId>>(1, conn);
}

Outcome Core::handle(ConnId conn, ChatRequest request, std::int64_t now_ms) {
  Outcome out;
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) {
    out.reply = ErrorReply{ErrorCode::internal, "unknown connection", std::nullopt};
    return out;
  }
  User& user = it->second;
  if (std::optional<Outcome> refused = gate_request(user.gate, limits_, request, !user.nick.empty(), now_ms))
    return std::move(*refused);
  Handler handler(*this, user, now_ms, out);
  std::visit(handler, std::get<Command>(request.body));
  if (handler.resume_target_) take_over(conn, *handler.resume_target_, out);  // `user` is gone after
  if (handler.quit_reason_) {
    Outcome gone = end_session(conn, *handler.quit_reason_);  // `quit`: no hold
    for (Delivery& d : gone.deliveries) out.deliveries.push_back(std::move(d));
  }
  return out;
}

// The session `token` names, if it is `nick_key`'s: held, or open on
// another connection. (Case-insensitive, as nicks are.)
Core::User* Core::resumable(std::string_view text, const std::string& nick_key) {
  const std::optional<SessionToken> token = parse_session_token(text);
  if (!token) return nullptr;
  auto it = by_token_.find(*token);
  if (it == by_token_.end()) return nullptr;
  auto session = sessions_.find(it->second);
  if (session == sessions_.end() || session->second.key != nick_key) return nullptr;
  return &session->second;
}

// Moves `session` onto `conn`, whose own, unregistered session it replaces:
// same nick, same channels, no event to anyone. The map node moves, so the
// User (which channels and the nick table point at) stays where it is.
void Core::take_over(ConnId conn, User& session, Outcome& out) {
  const ConnId old = session.conn;
  if (session.held) {
    session.held = false;
    --held_count_;
  } else {
    out.replaced = old;  // its connection is still open: closed with `replaced`
  }
  sessions_.erase(conn);
  auto node = sessions_.extract(old);
  node.key() = conn;
  User& user = node.mapped();
  user.conn = conn;
  user.alone = std::make_shared<const std::vector<ConnId>>(1, conn);
  sessions_.insert(std::move(node));
  by_token_[user.session] = conn;
  for (Channel* channel : user.channels) channel->everyone.reset();  // they list the old connection
  out.reply = welcome(user, true);
}

Welcome Core::welcome(const User& user, bool resumed) const {
  Welcome w{user.nick, info_.name, info_.version, 1, info_.node, info_.features, limits_.max_line,
            limits_.max_text, limits_.max_channels, to_text(user.session), resumed, {}};
  if (!resumed) return w;
  std::vector<const Channel*> sorted(user.channels.begin(), user.channels.end());
  std::sort(sorted.begin(), sorted.end(), [](const Channel* a, const Channel* b) { return a->key < b->key; });
  w.channels.reserve(sorted.size());
  for (const Channel* channel : sorted) w.channels.push_back({channel->name, channel->seq, channel->epoch});
  return w;
}

Outcome Core::disconnect(ConnId conn, std::string_view reason, std::int64_t now_ms) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return {};
  User& user = it->second;
  if (user.nick.empty() || info_.resume_grace_ms <= 0 || user.held) return end_session(conn, reason);
  user.held = true;
  user.held_until = now_ms + info_.resume_grace_ms;
  // Nothing is delivered to a held session: it leaves the recipient lists.
  user.alone = std::make_shared<const std::vector<ConnId>>();
  for (Channel* channel : user.channels) channel->everyone.reset();
  ++held_count_;
  held_.push_back({user.held_until, conn, std::string(reason)});
  // This one is held first, so the oldest's quit does not count it a listener.
  if (held_count_ > info_.max_held_sessions) return end_oldest_hold();
  return {};
}

// The oldest hold still current (held_ is in the order they began; entries
// of sessions resumed or ended since are skipped), ended now.
Outcome Core::end_oldest_hold() {
  while (!held_.empty()) {
    const Hold hold = std::move(held_.front());
    held_.pop_front();
    auto it = sessions_.find(hold.conn);
    if (it == sessions_.end() || !it->second.held || it->second.held_until != hold.until) continue;
    --held_count_;
    it->second.held = false;
    return end_session(hold.conn, hold.reason);
  }
  return {};
}

Outcome Core::expire(std::int64_t now_ms) {
  Outcome out;
  while (!held_.empty() && held_.front().until <= now_ms) {
    const Hold hold = std::move(held_.front());
    held_.pop_front();
    auto it = sessions_.find(hold.conn);
    if (it == sessions_.end() || !it->second.held || it->second.held_until != hold.until) continue;  // resumed or gone
    --held_count_;
    it->second.held = false;
    for (Delivery& d : end_session(hold.conn, hold.reason).deliveries) out.deliveries.push_back(std::move(d));
  }
  return out;
}

std::optional<std::int64_t> Core::next_expiry() const {
  for (const Hold& hold : held_) {
    auto it = sessions_.find(hold.conn);
    if (it != sessions_.end() && it->second.held && it->second.held_until == hold.until) return hold.until;
  }
  return std::nullopt;
}

// The session ends: `quit` {nick, reason} to everyone sharing a channel.
Outcome Core::end_session(ConnId conn, std::string_view reason) {
  Outcome out;
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return out;
  User& user = it->second;
  if (user.held) --held_count_;
  if (!user.nick.empty()) {
    Recipients to = neighbours(user);
    if (!to.empty()) {
      out.deliveries.push_back({std::move(to), UserQuit{user.nick, std::string(reason)}});
    }
    while (!user.channels.empty()) leave(user, *user.channels.back());
    nicks_.erase(user.key);
    by_token_.erase(user.session);
  }
  sessions_.erase(it);
  return out;
}

std::string Core::check_invariants() const {
  std::size_t named = 0, memberships = 0;
  for (const auto& [conn, user] : sessions_) {
    if (user.conn != conn) return "session " + std::to_string(conn) + " has the wrong connection id";
    if (user.nick.empty()) {
      if (!user.channels.empty()) return "an unregistered session is in a channel";
      continue;
    }
    ++named;
    if (user.key != fold(user.nick)) return "nick " + user.nick + " has a stale key";
    auto it = nicks_.find(user.key);
    if (it == nicks_.end() || it->second != &user) return "nick " + user.nick + " is not in the nick table";
    for (const Channel* channel : user.channels) {
      ++memberships;
      if (std::count(user.channels.begin(), user.channels.end(), channel) != 1)
        return user.nick + " lists " + channel->name + " twice";
      auto m = channel->members.find(user.key);
      if (m == channel->members.end() || m->second != &user)
        return user.nick + " lists " + channel->name + ", which does not list them";
    }
    if (user.channels.size() > limits_.max_channels) return user.nick + " is in too many channels";
  }
  if (nicks_.size() != named) return "the nick table has entries without a session";
  if (by_token_.size() != named) return "the resume tokens and the registered sessions differ";
  std::size_t held = 0;
  for (const auto& [token, conn] : by_token_) {
    auto s = sessions_.find(conn);
    if (s == sessions_.end() || s->second.session != token) return "a resume token names the wrong session";
    held += s->second.held;
  }
  if (held != held_count_) return "the held count is wrong";
  std::size_t members_total = 0;
  for (const auto& [key, channel] : channels_) {
    if (key != fold(channel.name) || key != channel.key)
      return "channel " + channel.name + " is filed under the wrong key";
    if (channel.members.empty()) return "channel " + channel.name + " is empty but exists";
    if (channel.log.size() > limits_.history) return "channel " + channel.name + " keeps too much history";
    members_total += channel.members.size();
    for (const auto& [nick_key, member] : channel.members) {
      auto s = sessions_.find(member->conn);
      if (s == sessions_.end() || &s->second != member) return "channel " + channel.name + " has a gone member";
      if (member->key != nick_key) return "channel " + channel.name + " files " + member->nick + " wrongly";
      if (std::find(member->channels.begin(), member->channels.end(), &channel) == member->channels.end())
        return member->nick + " is in " + channel.name + " without listing it";
    }
    if (channel.everyone) {
      std::vector<ConnId> cached = *channel.everyone, actual;
      for (const auto& [nick_key, member] : channel.members)
        if (!member->held) actual.push_back(member->conn);
      std::sort(cached.begin(), cached.end());
      std::sort(actual.begin(), actual.end());
      if (cached != actual) return "channel " + channel.name + " has a stale member list";
    }
  }
  if (members_total != memberships) return "channels and users disagree on memberships";
  return {};
}

std::optional<std::string> Core::nick_of(ConnId conn) const {
  auto it = sessions_.find(conn);
  if (it == sessions_.end() || it->second.nick.empty()) return std::nullopt;
  return it->second.nick;
}

std::vector<std::string> Core::channels_of(ConnId conn) const {
  std::vector<std::string> names;
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return names;
  names.reserve(it->second.channels.size());
  for (const Channel* channel : it->second.channels) names.push_back(channel->name);
  return names;
}

Core::Channel* Core::find_channel(std::string_view name) {
  auto it = channels_.find(fold(name));
  return it == channels_.end() ? nullptr : &it->second;
}

bool Core::is_member(const Channel& channel, const User& user) const {
  return channel.members.count(user.key) != 0;
}

void Core::leave(User& user, Channel& channel) {
  channel.members.erase(user.key);
  channel.everyone.reset();
  std::erase(user.channels, &channel);
  if (channel.members.empty()) channels_.erase(channels_.find(channel.key));
}

// Everyone sharing at least one channel with `user`, each once, not `user`.
Recipients Core::neighbours(const User& user) {
  const std::uint64_t stamp = ++mark_counter_;
  auto to = std::make_shared<std::vector<ConnId>>();
  for (const Channel* channel : user.channels)
    for (const auto& [key, member] : channel->members)
      if (member != &user && member->mark != stamp && !member->held) {
        member->mark = stamp;
        to->push_back(member->conn);
      }
  return {std::move(to)};
}

Recipients Core::others_in(Channel& channel, const User& except) const {
  if (!channel.everyone) {
    auto everyone = std::make_shared<std::vector<ConnId>>();
    everyone->reserve(channel.members.size());
    for (const auto& [key, member] : channel.members)
      if (!member->held) everyone->push_back(member->conn);
    channel.everyone = std::move(everyone);
  }
  return {channel.everyone, except.conn};
}

std::vector<std::string> Core::member_list(const Channel& channel) const {
  std::vector<std::string> members;
  members.reserve(channel.members.size());
  for (const auto& [key, member] : channel.members) members.push_back(member->nick);
  return members;
}

std::string Core::next_epoch() {
  return info_.epoch_prefix + "-" + std::to_string(++epoch_counter_);
}

}  // namespace parley
