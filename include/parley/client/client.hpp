// The `parley` terminal client's pure parts: what a typed line means, and how
// a line from the server reads to a person. No sockets here.
#pragma once

#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace parley::client {

using json = nlohmann::json;

// What the client remembers between lines.
struct Session {
  std::string nick;
  std::string channel;            // current channel: where plain lines go
  std::set<std::string> joined;   // channels as the server named them
};

// The outcome of one typed line: a request to send, text to print, or both.
struct Action {
  std::optional<json> request;    // without `id`; the caller adds one
  std::string print;              // printed right away (help, usage errors)
  bool quit = false;              // /quit: exit once the server answers
  bool raw = false;               // /raw: print the reply as JSON
};

Action interpret(std::string_view line, const Session& session);

std::string help_text();

// Renders a reply to `request` (the request it answers) and updates the
// session (current channel, nick). Returns what to print; may be empty.
std::string render_reply(const json& request, const json& reply, Session& session,
                         std::time_t now);

// Renders an event. Returns what to print; may be empty.
std::string render_event(const json& event, const Session& session, std::time_t now);

// "[12:03] " in local time.
std::string clock_prefix(std::time_t when);

}  // namespace parley::client
