// The chat core driven by a random program: each step picks a connection,
// a command and its arguments from small pools (so names collide often),
// runs it, and checks: exactly one reply per request, a success reply never
// carries an error, deliveries go only to connected sessions and never to
// the sender of a `say`, each channel's `seq` grows by one per `say` within
// an epoch, history stays within its bound, every reply and event the
// writers write is byte for byte what nlohmann_json dumps for the document
// it stands for, and the core's own invariants (nick table, memberships,
// member lists) hold after every step.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Limits limits;
  limits.max_text = 16;
  limits.history = 3;
  limits.max_channels = 2;
  limits.rate = {0, 1};
  Core core(limits, {});
  std::set<ConnId> connected;
  std::map<std::string, std::pair<std::string, std::uint64_t>> last_seq;  // channel -> (epoch, seq)
  std::int64_t now = 1'000'000;
  Program p(data, size);
  while (!p.done()) {
    const ConnId conn = 1 + p.next() % 4;
    if (!connected.count(conn)) {
      core.connect(conn);
      connected.insert(conn);
    }
    if (p.next() % 16 == 0) {  // the connection drops
      const Outcome gone = core.disconnect(conn, "connection closed");
      connected.erase(conn);
      for (const Delivery& d : gone.deliveries)
        for (ConnId to : d.to.ids()) require(connected.count(to) && to != conn);
      require(core.check_invariants().empty());
      continue;
    }
    const std::string line = request_for(p);
    const auto [id, out] = run(core, conn, line, limits, ++now);
    const std::string reply_bytes = *encode_reply(id, out.reply);
    require(reply_bytes == dumped(document(id, out.reply)));
    const Json reply = Json::parse(reply_bytes);
    require(reply.is_object() && reply.contains("ok"));
    const bool ok = reply["ok"].get<bool>();
    require(ok != reply.contains("error"));
    require(ok != out.failed());
    for (const Delivery& d : out.deliveries) {
      for (ConnId to : d.to.ids()) require(connected.count(to) == 1);
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
      connected.erase(conn);  // quit: the core already forgot the session
      require(core.session_count() == connected.size());
    }
    require(core.check_invariants().empty());
  }
  return 0;
}
