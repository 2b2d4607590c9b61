#include "parley/client/client.hpp"

#include <cstdio>

namespace parley::client {
namespace {

std::string str(const json& value, const char* key) {
  auto it = value.find(key);
  if (it == value.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string join_names(const json& names) {
  std::string out;
  for (const json& n : names) {
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

std::string line(std::time_t now, const std::string& text) { return clock_prefix(now) + text + "\n"; }

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
  const std::string cmd = str(request, "cmd");
  if (reply.value("ok", false) != true) {
    const json& error = reply.contains("error") ? reply["error"] : json::object();
    return line(now, "! " + str(error, "code") + ": " + str(error, "message"));
  }
  if (cmd == "hello") {
    session.nick = str(reply, "nick");
    const json& server = reply.contains("server") ? reply["server"] : json::object();
    return line(now, "* connected as " + session.nick + " to " + str(server, "name") + " " +
                         str(server, "version"));
  }
  if (cmd == "nick") {
    session.nick = str(reply, "nick");
    return line(now, "* you are now " + session.nick);
  }
  if (cmd == "join") {
    const std::string channel = str(reply, "channel");
    session.joined.insert(channel);
    session.channel = channel;
    std::string out = line(now, "* joined " + channel + " (" + join_names(reply["members"]) + ")");
    if (reply.contains("topic") && reply["topic"].is_string())
      out += line(now, "* topic: " + reply["topic"].get<std::string>());
    return out;
  }
  if (cmd == "part") {
    const std::string channel = str(reply, "channel");
    session.joined.erase(channel);
    if (session.channel == channel)
      session.channel = session.joined.empty() ? "" : *session.joined.begin();
    return line(now, "* left " + channel);
  }
  if (cmd == "say")
    return clock_prefix(seconds(reply["ts"], now)) + where(str(reply, "channel"), session) + "<" +
           session.nick + "> " + str(request, "text") + "\n";
  if (cmd == "msg")
    return line(seconds(reply["ts"], now), "-> *" + str(reply, "to") + "* " + str(request, "text"));
  if (cmd == "topic")
    return line(now, "* topic of " + str(reply, "channel") + ": " + topic_text(reply["topic"]));
  if (cmd == "list") {
    std::string out;
    for (const json& c : reply["channels"])
      out += line(now, "* " + str(c, "channel") + " (" + c["members"].dump() + ") " +
                           (c["topic"].is_string() ? c["topic"].get<std::string>() : ""));
    return out.empty() ? line(now, "* no channels") : out;
  }
  if (cmd == "members")
    return line(now, "* " + str(reply, "channel") + ": " + join_names(reply["members"]));
  if (cmd == "history") {
    std::string out;
    for (const json& m : reply["messages"])
      out += clock_prefix(seconds(m["ts"], now)) + "<" + str(m, "from") + "> " + str(m, "text") + "\n";
    if (reply.value("truncated", false)) out = line(now, "* (older messages are gone)") + out;
    return out.empty() ? line(now, "* no history") : out;
  }
  if (cmd == "ping" || cmd == "quit") return {};
  return reply.dump() + "\n";  // /raw of something without a rendering
}

std::string render_event(const json& event, const Session& session, std::time_t now) {
  const std::string name = str(event, "event");
  const std::time_t when = seconds(event.contains("ts") ? event["ts"] : json(), now);
  if (name == "message") {
    if (event.contains("channel"))
      return clock_prefix(when) + where(str(event, "channel"), session) + "<" + str(event, "from") +
             "> " + str(event, "text") + "\n";
    return line(when, "*" + str(event, "from") + "* " + str(event, "text"));
  }
  if (name == "join")
    return line(now, "* " + str(event, "nick") + " joined " + str(event, "channel"));
  if (name == "part") {
    const std::string reason = str(event, "reason");
    return line(now, "* " + str(event, "nick") + " left " + str(event, "channel") +
                         (reason.empty() ? "" : " (" + reason + ")"));
  }
  if (name == "quit")
    return line(now, "* " + str(event, "nick") + " quit (" + str(event, "reason") + ")");
  if (name == "nick")
    return line(now, "* " + str(event, "old") + " is now known as " + str(event, "new"));
  if (name == "topic")
    return line(now, "* " + str(event, "nick") + " set the topic of " + str(event, "channel") +
                         ": " + topic_text(event["topic"]));
  if (name == "error")
    return line(now, "! server closed the connection: " + str(event, "code") + ": " +
                         str(event, "message"));
  if (name == "shutdown")
    return line(now, "* server is shutting down (" + str(event, "reason") + "); reconnect in " +
                         (event.contains("retry_ms") ? event["retry_ms"].dump() : "?") + " ms");
  if (name == "ping") return {};
  return event.dump() + "\n";
}

}  // namespace parley::client
