// --transport ws and socketio: a line protocol's requests, each turned into
// one masked text frame where it was appended (ws::frame_tail), and the
// server's frames parsed in place from the read buffer, their text handed to
// the line protocol's classify(): no copy and no allocation per message.
#include <stdexcept>

#include "protocol.hpp"
#include "ws_frames.hpp"

namespace parley::bench {
namespace {

// Socket.IO's envelope of one event named "m" (Engine.IO message 4, then
// Socket.IO event 2, on the main namespace): 42["m",LINE].
constexpr std::string_view event_prefix = R"(42["m",)";

class WsTransport final : public Protocol {
 public:
  WsTransport(std::unique_ptr<Protocol> inner, bool socketio)
      : inner_(std::move(inner)),
        socketio_(socketio),
        name_(std::string(inner_->name()) + (socketio ? "+socketio" : "+ws")) {}

  std::string_view name() const override { return name_; }

  void greet(std::string& out, std::string_view nick) const override {
    framed(out, [&] { inner_->greet(out, nick); });
  }
  void subscribe(std::string& out, std::string_view channel) const override {
    framed(out, [&] { inner_->subscribe(out, channel); });
  }
  void publish(std::string& out, std::string_view channel, std::string_view text) const override {
    framed(out, [&] { inner_->publish(out, channel, text); });
  }
  void direct(std::string& out, std::string_view nick, std::string_view text) const override {
    framed(out, [&] { inner_->direct(out, nick, text); });
  }
  void ping(std::string& out) const override {
    framed(out, [&] { inner_->ping(out); });
  }
  void pong(std::string& out) const override {
    framed(out, [&] { inner_->pong(out); });
  }
  bool goodbye(std::string& out) const override {
    bool acked = false;
    framed(out, [&] { acked = inner_->goodbye(out); });
    return acked;
  }
  std::string inbox_subscription(std::string_view nick) const override { return inner_->inbox_subscription(nick); }
  bool echoes_to_sender() const override { return inner_->echoes_to_sender(); }
  bool resumes() const override { return inner_->resumes(); }
  void resume(std::string& out, std::string_view nick, std::string_view session) const override {
    framed(out, [&] { inner_->resume(out, nick, session); });
  }
  void history_after(std::string& out, std::string_view channel, std::uint64_t after, int limit) const override {
    framed(out, [&] { inner_->history_after(out, channel, after, limit); });
  }

  bool opening(std::string& out, std::string_view host) const override {
    if (socketio_) {
      ws::append_upgrade_request(out, host, "/socket.io/?EIO=4&transport=websocket", "");
    } else {
      ws::append_upgrade_request(out, host, "/ws", "parley.v1");
    }
    return true;
  }

  void transport_answer(std::string& out, const Frame& ping) const override {
    if (ping.detail == engine_io_ping)
      ws::append_client_frame(out, ws::text, "3", masks_.next());
    else if (ping.detail == engine_io_open)
      ws::append_client_frame(out, ws::text, "40", masks_.next());  // connect to "/"
    else
      ws::append_client_frame(out, ws::pong, ping.payload, masks_.next());
  }

  std::size_t next(std::string_view in, Frame& frame) const override {
    if (in[0] == 'H') {  // no server frame starts so (0x48 sets RSV1): the upgrade's response
      const std::size_t used = ws::parse_upgrade_response(in);
      if (used != 0) {
        frame = Frame{};
        if (!socketio_) frame.kind = FrameKind::transport_ready;
      }
      return used;
    }
    ws::FrameHeader h;
    if (!ws::parse_header(in, h)) return 0;
    if (h.masked) throw std::runtime_error("a masked WebSocket frame from the server");
    if (h.payload_size > in.size() - h.header_size) return 0;
    const std::size_t used = h.header_size + static_cast<std::size_t>(h.payload_size);
    if (!h.fin || h.opcode == ws::continuation)
      throw std::runtime_error("a fragmented WebSocket message (the loader reads whole frames only)");
    const std::string_view payload = in.substr(h.header_size, static_cast<std::size_t>(h.payload_size));
    switch (h.opcode) {
      case ws::text:
        if (socketio_)
          envelope(payload, frame);
        else
          inner_->classify(payload, frame);
        return used;
      case ws::ping:
        frame = Frame{};
        frame.kind = FrameKind::transport_call;
        frame.payload = payload;
        return used;
      case ws::pong: frame = Frame{}; return used;
      case ws::close:
        frame = Frame{};
        frame.kind = FrameKind::transport_close;
        return used;
      default: throw std::runtime_error("a binary WebSocket frame");
    }
  }

 private:
  // transport_call frames of Engine.IO's: its ping, and its open packet,
  // answered (as socket.io-client does) by connecting to the main namespace.
  static constexpr std::string_view engine_io_ping = "engine.io ping";
  static constexpr std::string_view engine_io_open = "engine.io open";

  // `append` appends one line to `out`: framed where it lies.
  template <typename Append>
  void framed(std::string& out, Append append) const {
    const std::size_t start = out.size();
    append();
    wrap(out, start);
  }

  void wrap(std::string& out, std::size_t start) const {
    if (socketio_) {
      if (out.size() > start && out.back() == '\n')
        out.back() = ']';
      else
        out += ']';
      out.insert(start, event_prefix);
    }
    ws::frame_tail(out, start, masks_.next());
  }

  // One Engine.IO packet: its first character is its type.
  void envelope(std::string_view packet, Frame& frame) const {
    if (packet.substr(0, event_prefix.size()) == event_prefix && packet.back() == ']') {
      inner_->classify(packet.substr(event_prefix.size(), packet.size() - event_prefix.size() - 1), frame);
      return;
    }
    frame = Frame{};
    if (packet.empty()) throw std::runtime_error("an empty Engine.IO packet");
    if (packet == "2" || packet[0] == '0') {
      frame.kind = FrameKind::transport_call;
      frame.detail = packet == "2" ? engine_io_ping : engine_io_open;
    } else if (packet.substr(0, 2) == "40") {
      frame.kind = FrameKind::transport_ready;
    } else if (packet == "41" || packet == "1") {
      frame.kind = FrameKind::transport_close;
    } else if (packet != "6") {  // noop
      throw std::runtime_error("not an Engine.IO packet the loader expects: " + std::string(packet.substr(0, 80)));
    }
  }

  std::unique_ptr<Protocol> inner_;
  bool socketio_;
  std::string name_;
  mutable ws::MaskSource masks_;  // the loader is single-threaded
};

}  // namespace

std::unique_ptr<Protocol> make_transport(std::string_view transport, std::unique_ptr<Protocol> inner) {
  if (transport == "ws") return std::make_unique<WsTransport>(std::move(inner), false);
  if (transport == "socketio") return std::make_unique<WsTransport>(std::move(inner), true);
  return nullptr;
}

}  // namespace parley::bench
