#include "parley/client/client.hpp"

#include <charconv>
#include <string>

#include "parley/protocol/request.hpp"

namespace parley::client {
namespace {

// Splits "word rest of line" at the first space.
std::pair<std::string, std::string> split_word(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return {std::string(text), ""};
  std::string_view rest = text.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {std::string(text.substr(0, space)), std::string(rest)};
}

Action print(std::string text) {
  Action a;
  a.print = std::move(text) + "\n";
  return a;
}

Action send(json request) {
  Action a;
  a.request = std::move(request);
  return a;
}

Action needs_channel(const Session& session, json request) {
  if (session.channel.empty()) return print("! join a channel first: /join #name");
  request["channel"] = session.channel;
  return send(std::move(request));
}

}  // namespace

std::string help_text() {
  return "commands:\n"
         "  TEXT              say TEXT in the current channel\n"
         "  /join CHANNEL     join (or switch to) CHANNEL\n"
         "  /part [CHANNEL]   leave CHANNEL (default: the current one)\n"
         "  /msg NICK TEXT    private message\n"
         "  /nick NEW         change your nick\n"
         "  /topic [TEXT]     show or set the current channel's topic\n"
         "  /list             list channels\n"
         "  /who              members of the current channel\n"
         "  /history [N]      last N messages of the current channel (default 20)\n"
         "  /raw JSON         send a request as it is\n"
         "  /quit [REASON]    leave\n"
         "  /help             this text\n";
}

Action interpret(std::string_view line, const Session& session) {
  if (line.empty()) return {};
  if (line.front() != '/' || line.starts_with("//")) {
    if (line.starts_with("//")) line.remove_prefix(1);  // "//x" says "/x"
    return needs_channel(session, {{"cmd", "say"}, {"text", std::string(line)}});
  }
  auto [command, rest] = split_word(line.substr(1));
  if (command == "join") {
    if (rest.empty()) return print("usage: /join CHANNEL");
    return send({{"cmd", "join"}, {"channel", split_word(rest).first}});
  }
  if (command == "part") {
    if (!rest.empty()) return send({{"cmd", "part"}, {"channel", split_word(rest).first}});
    return needs_channel(session, {{"cmd", "part"}});
  }
  if (command == "msg") {
    auto [nick, text] = split_word(rest);
    if (nick.empty() || text.empty()) return print("usage: /msg NICK TEXT");
    return send({{"cmd", "msg"}, {"to", nick}, {"text", text}});
  }
  if (command == "nick") {
    if (rest.empty()) return print("usage: /nick NEW");
    return send({{"cmd", "nick"}, {"nick", split_word(rest).first}});
  }
  if (command == "topic") {
    json request = {{"cmd", "topic"}};
    if (!rest.empty()) request["topic"] = rest;
    return needs_channel(session, std::move(request));
  }
  if (command == "list") return send({{"cmd", "list"}});
  if (command == "who") return needs_channel(session, {{"cmd", "members"}});
  if (command == "history") {
    json request = {{"cmd", "history"}, {"limit", 20}};
    if (!rest.empty()) {
      int n = 0;  // from_chars, not atoi: a number out of int's range is no undefined behaviour
      std::from_chars(rest.data(), rest.data() + rest.size(), n);
      if (n < 1 || n > static_cast<int>(history_limit_max))
        return print("usage: /history [N], N from 1 to " + std::to_string(history_limit_max));
      request["limit"] = n;
    }
    return needs_channel(session, std::move(request));
  }
  if (command == "raw") {
    json request = json::parse(rest, nullptr, false);
    if (request.is_discarded() || !request.is_object())
      return print("usage: /raw {\"cmd\":...}  (a JSON object)");
    Action a = send(std::move(request));
    a.raw = true;
    return a;
  }
  if (command == "quit") {
    Action a = send({{"cmd", "quit"}});
    if (!rest.empty()) a.request->operator[]("reason") = rest;
    a.quit = true;
    return a;
  }
  if (command == "help") return print(help_text());
  return print("unknown command /" + command + " (try /help)");
}

}  // namespace parley::client
