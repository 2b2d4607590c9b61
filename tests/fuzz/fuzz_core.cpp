// The chat core driven by a random program: each step picks a connection,
// a command and its arguments from small pools (so names collide often),
// runs it, and checks: exactly one reply per request, a success reply never
// carries an error, deliveries go only to connected sessions and never to
// the sender of a `say`, each channel's `seq` grows by one per `say` within
// an epoch, history stays within its bound, every reply and event the
// writers write is byte for byte what nlohmann_json dumps for the document
// it stands for, and the core's own invariants (nick table, memberships,
// member lists) hold after every step. Connections drop and come back on
// fresh ids, their sessions held for a grace; resumes (with the right nick
// or another) take them over, replacing a connection still open, and never
// tell anyone; time passes and held sessions expire.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "parley/chat/core.hpp"
#include "parley/protocol/encode.hpp"
#include "parley/protocol/request.hpp"
#include "wire.hpp"

using namespace parley;
using parley::test::document;
using parley::test::dumped;
using parley::test::Json;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

// Runs one line as the hub does: the chat part to the core, the id kept.
std::pair<RequestId, Outcome> run(Core& core, ConnId conn, const std::string& line, const Limits& limits,
                                  std::int64_t now) {
  Request request = parse_request(line, limits);
  Outcome out = core.handle(conn, std::move(static_cast<ChatRequest&>(request)), now);
  return {std::move(request.id), std::move(out)};
}

class Program {
 public:
  Program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t next() { return at_ < size_ ? data_[at_++] : 0; }
  template <std::size_t N>
  const char* pick(const char* const (&pool)[N]) { return pool[next() % N]; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

constexpr const char* nicks[] = {"ann", "Ann", "bob", "cy", "9bad", ""};
constexpr const char* channels[] = {"#a", "#A", "#b", "c.d", "bad chan", ""};
constexpr const char* texts[] = {"hi", "", "\\u00e9t\\u00e9", "a longer text than the limit allows"};

std::string request_for(Program& p) {
  const char* nick = p.pick(nicks);
  const char* channel = p.pick(channels);
  const char* text = p.pick(texts);
  const std::string n = std::to_string(p.next() % 8);
  switch (p.next() % 13) {
    case 0: return std::string(R"({"cmd":"hello","nick":")") + nick + "\"}";
    case 1: return std::string(R"({"cmd":"nick","nick":")") + nick + "\"}";
    case 2: return std::string(R"({"cmd":"join","channel":")") + channel + "\"}";
    case 3: return std::string(R"({"cmd":"part","channel":")") + channel + "\"}";
    case 4: return std::string(R"({"cmd":"say","channel":")") + channel + R"(","text":")" + text + "\"}";
    case 5: return std::string(R"({"cmd":"msg","to":")") + nick + R"(","text":")" + text + "\"}";
    case 6: return std::string(R"({"cmd":"topic","channel":")") + channel + R"(","topic":")" + text + "\"}";
    case 7: return R"({"cmd":"list"})";
    case 8: return std::string(R"({"cmd":"members","channel":")") + channel + "\"}";
    case 9: return std::string(R"({"cmd":"history","channel":")") + channel + R"(","after":)" + n + R"(,"limit":)" +
                   std::to_string(1 + p.next() % 5) + "}";
    case 10: return R"({"cmd":"quit"})";
    case 11: return R"({"cmd":"ping","id":)" + n + "}";
    default: return "{\"cmd\":";  // not JSON
  }
}

// The hub's side of a connection whose close the core learns of: a replaced
// connection, or a dropped one.
struct Connections {
  ConnId slots[4] = {1, 2, 3, 4};  // the connection each of the four clients has now
  ConnId next = 5;                 // ids are never reused, as the hub's are not
  std::set<ConnId> open;
  // Forgets `conn`; its client will come back on a fresh id.
  void gone(ConnId conn) {
    open.erase(conn);
    for (ConnId& slot : slots)
      if (slot == conn) slot = next++;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Limits limits;
  limits.max_text = 16;
  limits.history = 3;
  limits.max_channels = 2;
  limits.rate = {0, 1};
  ServerInfo info;
  info.resume_grace_ms = 1000;  // held sessions, resumes and expiries in every run
  Core core(limits, info);
  Connections conns;
  std::vector<std::pair<std::string, std::string>> tokens;  // (session, nick) from welcomes
  std::map<std::string, std::pair<std::string, std::uint64_t>> last_seq;  // channel -> (epoch, seq)
  std::int64_t now = 1'000'000;
  Program p(data, size);
  while (!p.done()) {
    const ConnId conn = conns.slots[p.next() % 4];
    if (!conns.open.count(conn)) {
      core.connect(conn);
      conns.open.insert(conn);
    }
    const std::uint8_t op = p.next();
    if (op % 16 == 0) {  // the connection drops: held, or gone if never registered
      const Outcome gone = core.disconnect(conn, "connection closed", now);
      conns.gone(conn);
      require(gone.deliveries.empty());  // with a grace no close is anyone's quit at once
      for (const Delivery& d : gone.deliveries)
        for (ConnId to : d.to.ids()) require(conns.open.count(to) && to != conn);
      require(core.check_invariants().empty());
      continue;
    }
    if (op % 16 == 1) {  // time passes; held sessions may expire
      now += 600;
      for (const Delivery& d : core.expire(now).deliveries)
        for (ConnId to : d.to.ids()) require(conns.open.count(to) == 1);
      require(core.check_invariants().empty());
      continue;
    }
    std::string line = request_for(p);
    if (op % 16 == 2 && !tokens.empty()) {  // a resume, sometimes with another nick
      const auto& [token, nick] = tokens[p.next() % tokens.size()];
      line = R"({"cmd":"hello","nick":")" + (p.next() % 4 ? nick : std::string(p.pick(nicks))) +
             R"(","resume":")" + token + "\"}";
    }
    const auto [id, out] = run(core, conn, line, limits, ++now);
    if (const auto* welcome = std::get_if<Welcome>(&out.reply)) {
      require(welcome->session.size() == 32);
      require(!welcome->resumed || out.deliveries.empty());  // a resume tells no one
      if (!welcome->resumed) tokens.emplace_back(welcome->session, welcome->nick);
    }
    if (out.replaced) {  // the hub closes the old connection; its close is nobody's quit
      require(conns.open.count(*out.replaced) && *out.replaced != conn);
      require(core.disconnect(*out.replaced, "replaced", now).deliveries.empty());
      conns.gone(*out.replaced);
    }
    const std::string reply_bytes = *encode_reply(id, out.reply);
    require(reply_bytes == dumped(document(id, out.reply)));
    const Json reply = Json::parse(reply_bytes);
    require(reply.is_object() && reply.contains("ok"));
    const bool ok = reply["ok"].get<bool>();
    require(ok != reply.contains("error"));
    require(ok != out.failed());
    for (const Delivery& d : out.deliveries) {
      for (ConnId to : d.to.ids()) require(conns.open.count(to) == 1);
      require(*encode_event(d.event) == dumped(document(d.event)));
    }
    if (ok && line.find(R"("cmd":"say")") != std::string::npos) {
      for (const Delivery& d : out.deliveries)
        for (ConnId to : d.to.ids()) require(to != conn);
      std::string channel = reply["channel"];
      const std::uint64_t seq = reply["seq"];
      const auto joined = run(core, conn, R"({"cmd":"join","channel":")" + channel + "\"}", limits, now);
      const std::string epoch = std::get<JoinReply>(joined.second.reply).epoch;
      for (char& c : channel) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto& [last_epoch, last] = last_seq[channel];
      if (last_epoch == epoch) require(seq == last + 1);
      else require(seq == 1 || last_epoch.empty());
      last_epoch = epoch;
      last = seq;
    }
    if (ok && line.find(R"("cmd":"history")") != std::string::npos) require(reply["messages"].size() <= 3);
    if (out.close) {
      conns.gone(conn);  // quit: the core already forgot the session
      require(core.session_count() == conns.open.size() + core.held_count());
    }
    require(core.check_invariants().empty());
  }
  return 0;
}
