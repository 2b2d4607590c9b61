#include <string>

#include <doctest/doctest.h>

#include "parley/net/outbox.hpp"

using namespace parley;
using Kind = Outbox::Kind;

namespace {

Bytes line(const std::string& text) { return std::make_shared<const std::string>(text); }

std::string gathered(const Outbox& box, std::size_t skip = 0) {
  Slice bufs[8];
  const std::size_t n = box.gather(bufs, 8, skip);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(bufs[i].data, bufs[i].size);
  return out;
}

}  // namespace

TEST_CASE("outbox: shared lines are queued by reference, not copied") {
  Outbox a, b;
  const Bytes event = line("{\"event\":\"x\"}\n");
  a.push(event, Kind::event);
  b.push(event, Kind::event);
  Slice buf_a[1], buf_b[1];
  a.gather(buf_a, 1);
  b.gather(buf_b, 1);
  CHECK(buf_a[0].data == event->data());
  CHECK(buf_b[0].data == event->data());
  CHECK(event.use_count() == 3);
}

TEST_CASE("outbox: partial writes keep the offset; events and replies are counted apart") {
  Outbox box;
  box.push(line("reply\n"), Kind::reply);
  box.push(line("event\n"), Kind::event);
  CHECK(box.bytes() == 12);
  CHECK(box.event_bytes() == 6);
  box.consume(4);
  CHECK(gathered(box) == "y\nevent\n");
  CHECK(box.bytes() == 8);
  CHECK(box.event_bytes() == 6);
  box.consume(3);
  CHECK(gathered(box) == "vent\n");
  CHECK(box.event_bytes() == 5);
  CHECK(gathered(box, 2) == "nt\n");  // skipping bytes already in flight
  box.consume(5);
  CHECK(box.empty());
  CHECK(box.event_bytes() == 0);
}

TEST_CASE("outbox: gather stops at the buffer count") {
  Outbox box;
  for (int i = 0; i < 5; ++i) box.push(line("x\n"), Kind::event);
  Slice bufs[3];
  CHECK(box.gather(bufs, 3) == 3);
}

TEST_CASE("outbox: drop_unstarted keeps only a partly written front line") {
  Outbox box;
  box.push(line("first\n"), Kind::event);
  box.push(line("second\n"), Kind::event);
  box.consume(2);
  box.drop_unstarted();
  CHECK(gathered(box) == "rst\n");
  CHECK(box.bytes() == 4);
  CHECK(box.event_bytes() == 4);
  Outbox untouched;
  untouched.push(line("a\n"), Kind::reply);
  untouched.drop_unstarted();
  CHECK(untouched.empty());
}

TEST_CASE("outbox: the ring keeps order as it wraps and grows, and lets go of what it wrote") {
  Outbox box;
  std::string expected;
  int next = 0, written = 0;
  // Pushes outpace writes, so the ring wraps and doubles several times.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i) {
      const std::string text = std::to_string(next++) + "\n";
      box.push(line(text), round % 2 ? Kind::event : Kind::reply);
      expected += text;
    }
    const std::string front = std::to_string(written++) + "\n";
    box.consume(front.size());
    expected.erase(0, front.size());
  }
  CHECK(box.bytes() == expected.size());
  Slice bufs[1024];
  const std::size_t n = box.gather(bufs, 1024);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(bufs[i].data, bufs[i].size);
  CHECK(out == expected);
  const Bytes shared = line("kept\n");
  box.push(shared, Kind::event);
  CHECK(shared.use_count() == 2);
  box.consume(box.bytes());
  CHECK(box.empty());
  CHECK(box.lines() == 0);
  CHECK(shared.use_count() == 1);  // written lines are released, not kept in the ring
}

TEST_CASE("outbox: a framed entry gathers each header, then its line's slice of the shared buffer") {
  const Bytes batch = line("one\ntwo\n");
  auto framing = std::make_shared<Framing>();
  framing->headers = "AB" "CD";
  framing->pieces = {{0, 2, 0, 3}, {2, 2, 4, 3}};
  framing->wire_size = 10;
  Outbox box;
  box.push(batch, framing, Kind::event);
  CHECK(box.bytes() == 10);
  CHECK(box.event_bytes() == 8);  // the lines' bytes, as on the line transport: not the headers
  Slice slices[8];
  REQUIRE(box.gather(slices, 8) == 4);
  CHECK(slices[1].data == batch->data());      // the payload is the shared buffer itself
  CHECK(slices[3].data == batch->data() + 4);
  CHECK(gathered(box) == "ABoneCDtwo");
  CHECK(gathered(box, 3) == "neCDtwo");
  CHECK(gathered(box, 6) == "Dtwo");
  box.consume(1);
  CHECK(gathered(box) == "BoneCDtwo");
  box.consume(4);
  CHECK(gathered(box) == "CDtwo");
  CHECK(box.event_bytes() == 4);  // "two\n"
  box.push(line("plain\n"), Kind::reply);
  CHECK(gathered(box) == "CDtwoplain\n");
  CHECK(box.gather(slices, 1) == 1);  // a short slice array is never overrun
  box.consume(5);
  CHECK(box.event_bytes() == 0);
  CHECK(gathered(box) == "plain\n");
}

// A batch's frames laid out once (Framing::wire): one slice a write, and the
// pieces still mark where each frame ends, whatever bytes its header holds
// (0x0A, an LF, is the header byte of a 10-byte payload).
TEST_CASE("outbox: a contiguously framed batch gathers one slice and is cut at its frames, not at LF bytes") {
  const Bytes batch = line("0123456789\nabc\n");
  auto framing = std::make_shared<Framing>();
  framing->headers = std::string("\x81\x0a" "\x81\x03", 4);
  framing->pieces = {{0, 2, 0, 10}, {2, 2, 11, 3}};
  framing->wire_size = 17;
  framing->wire = std::string("\x81\x0a" "0123456789" "\x81\x03" "abc", 17);
  Outbox box;
  box.push(batch, framing, Kind::event);
  CHECK(box.bytes() == 17);
  CHECK(box.event_bytes() == 15);  // the lines' bytes, as on TCP
  Slice slices[8];
  REQUIRE(box.gather(slices, 8) == 1);
  CHECK(slices[0].data == framing->wire.data());
  CHECK(slices[0].size == 17);
  CHECK(gathered(box, 5) == framing->wire.substr(5));
  box.consume(1);  // inside the first header, right before its 0x0A
  box.drop_unstarted();
  CHECK(gathered(box) == std::string("\x0a" "0123456789", 11));  // the rest of that frame, all of it
  CHECK(box.event_bytes() == 11);
  box.push(line("bye"), Kind::reply);
  box.consume(11);
  CHECK(gathered(box) == "bye");
}

TEST_CASE("outbox: drop_unstarted cuts a batch to the rest of the line or frame under way") {
  const Bytes batch = line("one\ntwo\nsix\n");
  auto framing = std::make_shared<Framing>();
  framing->headers = "AB" "CD" "EF";
  framing->pieces = {{0, 2, 0, 3}, {2, 2, 4, 3}, {4, 2, 8, 3}};
  framing->wire_size = 15;
  {
    Outbox box;
    box.push(batch, framing, Kind::event);
    box.push(line("later\n"), Kind::event);
    box.consume(3);  // inside the first frame
    box.drop_unstarted();
    CHECK(gathered(box) == "ne");
    CHECK(box.bytes() == 2);
    CHECK(box.event_bytes() == 3);  // "ne\n", as on the line transport
    box.push(line("bye"), Kind::reply);
    CHECK(gathered(box) == "nebye");
    box.consume(5);
    CHECK(box.empty());
    CHECK(box.event_bytes() == 0);
  }
  {
    // A write in flight holds bytes 1-5 (up to the second frame's header):
    // they stay, with the rest of that frame; the third frame goes.
    Outbox box;
    box.push(batch, framing, Kind::event);
    box.consume(1);
    box.drop_unstarted(5);
    CHECK(gathered(box) == "BoneCDtwo");
    CHECK(box.event_bytes() == 8);  // "one\ntwo\n": one header byte is no line byte
    box.push(line("bye"), Kind::reply);
    CHECK(gathered(box, 5) == "Dtwobye");
    box.consume(9);
    CHECK(gathered(box) == "bye");
    CHECK(box.event_bytes() == 0);
  }
  {
    // Lines: in flight into the second entry, cut after its line under way.
    Outbox box;
    box.push(line("a\n"), Kind::event);
    box.push(line("bc\nde\n"), Kind::event);
    box.drop_unstarted(3);
    CHECK(gathered(box) == "a\nbc\n");
    CHECK(box.bytes() == 5);
    // Written up to a line's end: nothing is under way.
    box.consume(5);
    box.push(line("x\ny\n"), Kind::event);
    box.consume(2);
    box.drop_unstarted();
    CHECK(box.empty());
    CHECK(box.event_bytes() == 0);
  }
  {
    // The cut entry keeps its cut when the ring grows under it.
    Outbox box;
    for (const char* text : {"a\n", "b\n", "c\n", "dd\nee\n"}) box.push(line(text), Kind::event);
    box.consume(1);
    box.drop_unstarted(6);
    box.push(line("bye"), Kind::reply);  // a fifth entry: the ring of four grows
    CHECK(gathered(box) == "\nb\nc\ndd\nbye");
    CHECK(box.bytes() == 11);
    box.consume(11);
    CHECK(box.empty());
  }
}
