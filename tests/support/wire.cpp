#include "wire.hpp"

#include <type_traits>

#include "parley/protocol/encode.hpp"

namespace parley::test {
namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

void put_id(Json& reply, const RequestId& id) {
  switch (id.kind) {
    case RequestId::Kind::none: break;
    case RequestId::Kind::string: reply["id"] = id.text; break;
    case RequestId::Kind::integer: reply["id"] = id.integer; break;
    case RequestId::Kind::unsigned_integer: reply["id"] = id.unsigned_integer; break;
  }
}

Json nullable(const std::optional<std::string>& value) { return value ? Json(*value) : Json(nullptr); }

Json names(const std::vector<std::string>& list) {
  Json out = Json::array();
  for (const std::string& n : list) out.push_back(n);
  return out;
}

Json event_named(const char* name) {
  Json e = Json::object();
  e["event"] = name;
  return e;
}

}  // namespace

Json written(const RequestId& id, const Reply& reply) { return Json::parse(*encode_reply(id, reply)); }

Json written(const Event& event) { return Json::parse(*encode_event(event)); }

std::string dumped(const Json& document) { return document.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"; }

Json document(const RequestId& id, const Reply& reply) {
  Json r = Json::object();
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    r["ok"] = false;
    put_id(r, id);
    r["error"] = {{"code", std::string(to_string(error->code))}, {"message", error->message}};
    if (error->retry_ms) r["error"]["retry_ms"] = *error->retry_ms;
    return r;
  }
  r["ok"] = true;
  put_id(r, id);
  std::visit(overloaded{
                 [](const OkReply&) {},
                 [](const ErrorReply&) {},
                 [&](const Welcome& w) {
                   r["nick"] = w.nick;
                   r["server"] = {{"name", w.server_name}, {"version", w.server_version}, {"protocol", w.protocol},
                                  {"node", w.node}, {"features", names(w.features)}};
                   r["limits"] = {{"max_line", w.max_line}, {"max_text", w.max_text}, {"max_channels", w.max_channels}};
                   r["session"] = w.session;
                   r["resumed"] = w.resumed;
                   if (w.resumed) {
                     Json channels = Json::array();
                     for (const ResumedChannel& c : w.channels)
                       channels.push_back({{"channel", c.channel}, {"seq", c.seq}, {"epoch", c.epoch}});
                     r["channels"] = channels;
                   }
                 },
                 [&](const NickReply& n) { r["nick"] = n.nick; },
                 [&](const JoinReply& j) {
                   r["channel"] = j.channel;
                   r["topic"] = nullable(j.topic);
                   r["members"] = names(j.members);
                   r["seq"] = j.seq;
                   r["epoch"] = j.epoch;
                 },
                 [&](const PartReply& p) { r["channel"] = p.channel; },
                 [&](const ChatAck& a) {
                   if (!a.channel.empty()) r["channel"] = a.channel;
                   if (!a.to.empty()) r["to"] = a.to;
                   if (!a.channel.empty()) r["seq"] = a.seq;
                   r["ts"] = a.ts;
                 },
                 [&](const TopicReply& t) {
                   r["channel"] = t.channel;
                   r["topic"] = nullable(t.topic);
                 },
                 [&](const ListReply& l) {
                   Json channels = Json::array();
                   for (const ChannelSummary& c : l.channels)
                     channels.push_back({{"channel", c.channel}, {"members", c.members}, {"topic", nullable(c.topic)}});
                   r["channels"] = std::move(channels);
                 },
                 [&](const MembersReply& m) {
                   r["channel"] = m.channel;
                   r["members"] = names(m.members);
                 },
                 [&](const HistoryReply& h) {
                   r["channel"] = h.channel;
                   r["epoch"] = h.epoch;
                   Json messages = Json::array();
                   for (const LoggedMessage& m : h.messages)
                     messages.push_back({{"seq", m.seq}, {"ts", m.ts}, {"from", m.from}, {"text", m.text}});
                   r["messages"] = std::move(messages);
                   r["truncated"] = h.truncated;
                 },
             },
             reply);
  return r;
}

Json document(const Event& event) {
  return std::visit(overloaded{
                        [](const Joined& j) {
                          Json e = event_named("join");
                          e["channel"] = j.channel;
                          e["nick"] = j.nick;
                          return e;
                        },
                        [](const Parted& p) {
                          Json e = event_named("part");
                          e["channel"] = p.channel;
                          e["nick"] = p.nick;
                          if (p.reason) e["reason"] = *p.reason;
                          return e;
                        },
                        [](const ChatMessage& m) {
                          Json e = event_named("message");
                          if (!m.channel.empty()) e["channel"] = m.channel;
                          e["from"] = m.from;
                          if (!m.to.empty()) e["to"] = m.to;
                          e["text"] = m.text;
                          if (!m.channel.empty()) e["seq"] = m.seq;
                          e["ts"] = m.ts;
                          return e;
                        },
                        [](const TopicSet& t) {
                          Json e = event_named("topic");
                          e["channel"] = t.channel;
                          e["nick"] = t.nick;
                          e["topic"] = nullable(t.topic);
                          return e;
                        },
                        [](const NickChanged& n) {
                          Json e = event_named("nick");
                          e["old"] = n.old_nick;
                          e["new"] = n.new_nick;
                          return e;
                        },
                        [](const UserQuit& q) {
                          Json e = event_named("quit");
                          e["nick"] = q.nick;
                          e["reason"] = q.reason;
                          return e;
                        },
                    },
                    event);
}

}  // namespace parley::test
