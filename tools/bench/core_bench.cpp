// parley-core-bench: the user-space cost of one `say` without sockets: parse
// the line, run it through the Core, encode the reply and the event. The
// network shell adds libuv and the queues on top; the kernel adds the rest.
//
//   parley-core-bench [--says N] [--members M] [--text BYTES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "parley/chat/core.hpp"
#include "parley/hub/event_batch.hpp"
#include "parley/protocol/encode.hpp"
#include "parley/protocol/request.hpp"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

long flag(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

double ns_per(Clock::duration d, long n) {
  return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const long says = flag(argc, argv, "--says", 200'000);
  const long members = flag(argc, argv, "--members", 10);
  const long text_size = flag(argc, argv, "--text", 64);
  if (says < 1 || members < 1 || text_size < 1 || text_size > 4096) {
    std::fprintf(stderr, "usage: parley-core-bench [--says N] [--members M] [--text 1..4096]\n");
    return 2;
  }
  Limits limits;
  limits.rate = {0, 0};
  Core core(limits, {});
  for (ConnId c = 1; c <= static_cast<ConnId>(members); ++c) {
    core.connect(c);
    core.handle(c, parse_request(R"({"cmd":"hello","nick":"u)" + std::to_string(c) + "\"}", limits), 0);
    core.handle(c, parse_request(R"({"cmd":"join","channel":"room"})", limits), 0);
  }
  const std::string line =
      R"({"cmd":"say","channel":"room","text":")" + std::string(static_cast<std::size_t>(text_size), 'x') + "\"}";

  Clock::duration parse{}, handle{}, encode{};
  std::size_t bytes = 0;
  for (long i = 0; i < says; ++i) {
    const auto t0 = Clock::now();
    Request request = parse_request(line, limits);
    const auto t1 = Clock::now();
    const Outcome outcome = core.handle(1, std::move(static_cast<ChatRequest&>(request)), 1'764'000'000'000 + i);
    const auto t2 = Clock::now();
    const Bytes reply = encode_reply(request.id, outcome.reply);
    EventBatch batch(65536);
    for (const Delivery& d : outcome.deliveries) batch.add(d);
    const Bytes events = batch.open() ? batch.take().second : Bytes{};
    const auto t3 = Clock::now();
    parse += t1 - t0;
    handle += t2 - t1;
    encode += t3 - t2;
    bytes += reply->size() + (events ? events->size() : 0);
  }
  std::printf("%.0f ns per say: parse %.0f, core %.0f, encode reply and event %.0f (%ld members, %ld-byte text, "
              "%zu bytes out)\n",
              ns_per(parse + handle + encode, says), ns_per(parse, says), ns_per(handle, says), ns_per(encode, says),
              members, text_size, bytes);
}
