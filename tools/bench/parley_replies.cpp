#include "parley_replies.hpp"

#include <nlohmann/json.hpp>

namespace parley::bench {
namespace {

using json = nlohmann::json;

// The reply as an object, or a discarded value with `error` set: not JSON,
// not an object, or `ok` false (then `error` is the server's code).
json reply_of(std::string_view line, bool& ok, std::string& error) {
  json reply = json::parse(line, nullptr, false);
  ok = false;
  if (reply.is_discarded() || !reply.is_object()) {
    error = "not a JSON object: " + std::string(line.substr(0, 80));
    return json();
  }
  const auto it = reply.find("ok");
  if (it == reply.end() || !it->is_boolean()) {
    error = "not a reply: " + std::string(line.substr(0, 80));
    return json();
  }
  if (!it->get<bool>()) {
    const json& code = reply.contains("error") && reply["error"].is_object() ? reply["error"].value("code", json())
                                                                              : json();
    error = code.is_string() ? code.get<std::string>() : "an error without a code";
    return json();
  }
  ok = true;
  return reply;
}

std::string text_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool flag_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::uint64_t seq_of(const json& object) {
  const auto it = object.find("seq");
  return it != object.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

bool same_channel(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Welcome parse_welcome(std::string_view line) {
  Welcome w;
  const json reply = reply_of(line, w.ok, w.error);
  if (!w.ok) return w;
  w.session = text_of(reply, "session");
  w.resumed = flag_of(reply, "resumed");
  if (const auto it = reply.find("channels"); it != reply.end() && it->is_array())
    for (const json& c : *it)
      if (c.is_object()) w.channels.push_back({text_of(c, "channel"), seq_of(c), text_of(c, "epoch")});
  if (w.session.empty()) {
    w.ok = false;
    w.error = "a hello reply without a session";
  }
  return w;
}

Joined parse_joined(std::string_view line) {
  Joined j;
  const json reply = reply_of(line, j.ok, j.error);
  if (!j.ok) return j;
  j.head = {text_of(reply, "channel"), seq_of(reply), text_of(reply, "epoch")};
  return j;
}

HistoryPage parse_history(std::string_view line) {
  HistoryPage page;
  const json reply = reply_of(line, page.ok, page.error);
  if (!page.ok) return page;
  page.epoch = text_of(reply, "epoch");
  page.truncated = flag_of(reply, "truncated");
  const auto it = reply.find("messages");
  if (it == reply.end() || !it->is_array()) {
    page.ok = false;
    page.error = "a history reply without messages";
    return page;
  }
  for (const json& m : *it)
    if (m.is_object()) page.messages.push_back({seq_of(m), text_of(m, "text")});
  return page;
}

}  // namespace parley::bench
