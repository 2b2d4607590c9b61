// Every field of a reply or an event is read through fields.hpp: a missing
// or mistyped one renders as nothing ("", no names, "?" for a number), and
// what cannot be rendered at all is shown as the JSON it is.
#include "parley/client/client.hpp"

#include <cstdio>

#include "parley/client/fields.hpp"

namespace parley::client {
namespace {

// An array's elements; none for anything else.
const json& items(const json& value) {
  static const json none = json::array();
  return value.is_array() ? value : none;
}

std::string join_names(const json& names) {
  std::string out;
  for (const json& n : items(names)) {
    if (!out.empty()) out += ", ";
    out += n.is_string() ? n.get<std::string>() : n.dump();
  }
  return out;
}

std::time_t seconds(const json& ts, std::time_t fallback) {
  return ts.is_number_integer() ? static_cast<std::time_t>(ts.get<long long>() / 1000) : fallback;
}

// "#room " unless it is the current channel.
std::string where(const std::string& channel, const Session& session) {
  return channel == session.channel ? "" : channel + " ";
}

std::string topic_text(const json& topic) {
  return topic.is_string() ? topic.get<std::string>() : "(none)";
}

std::string number_text(const json& number) { return number.is_number() ? number.dump() : "?"; }

std::string line(std::time_t now, const std::string& text) { return clock_prefix(now) + text + "\n"; }

std::string error_line(const json& reply, std::time_t now) {
  const json& error = field(reply, "error");
  if (!field(error, "code").is_string()) return line(now, "! " + reply.dump());
  return line(now, "! " + field_text(error, "code") + ": " + field_text(error, "message"));
}

std::string channel_line(const json& c, std::time_t now) {
  if (!c.is_object()) return line(now, "* " + c.dump());
  const json& topic = field(c, "topic");
  return line(now, "* " + field_text(c, "channel") + " (" + number_text(field(c, "members")) + ") " +
                       (topic.is_string() ? topic.get<std::string>() : ""));
}

std::string history_line(const json& m, std::time_t now) {
  if (!m.is_object()) return line(now, m.dump());
  return clock_prefix(seconds(field(m, "ts"), now)) + "<" + field_text(m, "from") + "> " + field_text(m, "text") +
         "\n";
}

}  // namespace

std::string clock_prefix(std::time_t when) {
  std::tm local{};
  localtime_r(&when, &local);
  char text[16];
  std::snprintf(text, sizeof text, "[%02d:%02d] ", local.tm_hour, local.tm_min);
  return text;
}

std::string render_reply(const json& request, const json& reply, Session& session,
                         std::time_t now) {
  const std::string cmd = field_text(request, "cmd");
  if (!field_is_true(reply, "ok")) return error_line(reply, now);
  if (cmd == "hello") {
    session.nick = field_text(reply, "nick");
    const json& server = field(reply, "server");
    return line(now, "* connected as " + session.nick + " to " + field_text(server, "name") + " " +
                         field_text(server, "version"));
  }
  if (cmd == "nick") {
    session.nick = field_text(reply, "nick");
    return line(now, "* you are now " + session.nick);
  }
  if (cmd == "join") {
    const std::string channel = field_text(reply, "channel");
    session.joined.insert(channel);
    session.channel = channel;
    std::string out = line(now, "* joined " + channel + " (" + join_names(field(reply, "members")) + ")");
    if (const json& topic = field(reply, "topic"); topic.is_string())
      out += line(now, "* topic: " + topic.get<std::string>());
    return out;
  }
  if (cmd == "part") {
    const std::string channel = field_text(reply, "channel");
    session.joined.erase(channel);
    if (session.channel == channel)
      session.channel = session.joined.empty() ? "" : *session.joined.begin();
    return line(now, "* left " + channel);
  }
  if (cmd == "say")
    return clock_prefix(seconds(field(reply, "ts"), now)) + where(field_text(reply, "channel"), session) + "<" +
           session.nick + "> " + field_text(request, "text") + "\n";
  if (cmd == "msg")
    return line(seconds(field(reply, "ts"), now),
                "-> *" + field_text(reply, "to") + "* " + field_text(request, "text"));
  if (cmd == "topic")
    return line(now, "* topic of " + field_text(reply, "channel") + ": " + topic_text(field(reply, "topic")));
  if (cmd == "list") {
    std::string out;
    for (const json& c : items(field(reply, "channels"))) out += channel_line(c, now);
    return out.empty() ? line(now, "* no channels") : out;
  }
  if (cmd == "members")
    return line(now, "* " + field_text(reply, "channel") + ": " + join_names(field(reply, "members")));
  if (cmd == "history") {
    std::string out;
    for (const json& m : items(field(reply, "messages"))) out += history_line(m, now);
    if (field_is_true(reply, "truncated")) out = line(now, "* (older messages are gone)") + out;
    return out.empty() ? line(now, "* no history") : out;
  }
  if (cmd == "ping" || cmd == "quit") return {};
  return reply.dump() + "\n";  // /raw of something without a rendering
}

std::string render_event(const json& event, const Session& session, std::time_t now) {
  const std::string name = field_text(event, "event");
  const std::time_t when = seconds(field(event, "ts"), now);
  if (name == "message") {
    if (event.contains("channel"))
      return clock_prefix(when) + where(field_text(event, "channel"), session) + "<" + field_text(event, "from") +
             "> " + field_text(event, "text") + "\n";
    return line(when, "*" + field_text(event, "from") + "* " + field_text(event, "text"));
  }
  if (name == "join")
    return line(now, "* " + field_text(event, "nick") + " joined " + field_text(event, "channel"));
  if (name == "part") {
    const std::string reason = field_text(event, "reason");
    return line(now, "* " + field_text(event, "nick") + " left " + field_text(event, "channel") +
                         (reason.empty() ? "" : " (" + reason + ")"));
  }
  if (name == "quit")
    return line(now, "* " + field_text(event, "nick") + " quit (" + field_text(event, "reason") + ")");
  if (name == "nick")
    return line(now, "* " + field_text(event, "old") + " is now known as " + field_text(event, "new"));
  if (name == "topic")
    return line(now, "* " + field_text(event, "nick") + " set the topic of " + field_text(event, "channel") +
                         ": " + topic_text(field(event, "topic")));
  if (name == "error")
    return line(now, "! server closed the connection: " + field_text(event, "code") + ": " +
                         field_text(event, "message"));
  if (name == "shutdown")
    return line(now, "* server is shutting down (" + field_text(event, "reason") + "); reconnect in " +
                         number_text(field(event, "retry_ms")) + " ms");
  if (name == "ping") return {};
  return event.dump() + "\n";
}

}  // namespace parley::client
