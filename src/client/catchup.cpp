#include "parley/client/catchup.hpp"

#include "parley/client/fields.hpp"

namespace parley::client {
namespace {

std::uint64_t seq_of(const json& object) { return as_seq(field(object, "seq")); }

// A history entry as the `message` event it was.
json as_event(const json& m, const std::string& channel) {
  return {{"event", "message"}, {"channel", channel}, {"from", field_text(m, "from")},
          {"text", field_text(m, "text")}, {"seq", field(m, "seq")}, {"ts", field(m, "ts")}};
}

}  // namespace

void Catchup::start(const json& channels, Marks& marks) {
  todo_.clear();
  if (!channels.is_array()) return;
  for (const json& c : channels) {
    const std::string name = field_text(c, "channel");
    if (name.empty()) continue;
    const std::string epoch = field_text(c, "epoch");
    const Mark* mark = marks.find(name);
    if (!mark || mark->epoch != epoch) marks.set(name, {0, epoch});  // the old numbers mean nothing now
    if (seq_of(c) > marks.find(name)->seq) todo_.push_back({name, seq_of(c)});
  }
}

std::optional<json> Catchup::next_request(const Marks& marks) const {
  if (todo_.empty()) return std::nullopt;
  const Mark* mark = marks.find(todo_.front().channel);
  return json{{"cmd", "history"}, {"channel", todo_.front().channel}, {"after", mark ? mark->seq : 0},
              {"limit", page_limit}};
}

std::string Catchup::on_page(const json& reply, Marks& marks, const Session& session, std::time_t now) {
  if (todo_.empty()) return {};
  Target& target = todo_.front();
  const Mark* mark = marks.find(target.channel);
  const std::uint64_t before = mark ? mark->seq : 0;
  std::string out;
  if (!field_is_true(reply, "ok")) {
    out = clock_prefix(now) + "! cannot fetch what " + target.channel + " missed: " +
          field_text(field(reply, "error"), "code") + "\n";
  } else {
    if (field_is_true(reply, "truncated"))
      out += "-- some messages of " + target.channel + " are no longer kept --\n";
    out += show_page(field(reply, "messages"), target, marks, session, now);
  }
  mark = marks.find(target.channel);
  const std::uint64_t after = mark ? mark->seq : 0;
  // Done when the page reached the resumed seq, or it moved nothing (an
  // error, an empty page): never ask for the same page twice.
  if (after >= target.seq || after == before) todo_.pop_front();
  return out;
}

std::string Catchup::show_page(const json& messages, Target& target, Marks& marks, const Session& session,
                               std::time_t now) {
  std::string out;
  if (!messages.is_array()) return out;
  for (const json& m : messages) {
    if (!marks.saw(target.channel, field(m, "seq"))) continue;
    if (!target.told) out += "-- missed while disconnected: " + target.channel + " --\n";
    target.told = true;
    out += render_event(as_event(m, target.channel), session, now);
  }
  return out;
}

bool Catchup::hold(const json& event) {
  if (!active() || held_.size() >= max_held) return false;
  held_.push_back(event);
  return true;
}

std::vector<json> Catchup::take_held() {
  std::vector<json> out;
  out.swap(held_);
  return out;
}

}  // namespace parley::client
