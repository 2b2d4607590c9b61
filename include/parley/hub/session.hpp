// One client as the hub sees it, whatever carries its bytes. A transport
// (transport/line today, transport/ws next) derives from Session and
// implements the virtual part; the hub keeps the rest.
//
// Lifetime: the hub's SessionTable owns every session. The hub decides a
// close (Hub::close) and then calls close_transport() exactly once; the
// transport finishes on its own (flush, close its handles) and calls
// Hub::release() from its last close callback, which destroys the object.
// Nothing here is ever freed inside a fan-out loop or a callback chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/chat/outcome.hpp"
#include "parley/hub/close_reason.hpp"
#include "parley/protocol/bytes.hpp"
#include "parley/protocol/request.hpp"

namespace parley {

class Hub;

// What a queued buffer is. Replies answer the client's own requests and are
// bounded by pausing its input; events are pushed by others and count toward
// --max-pending.
enum class OutputKind : unsigned char { reply, event };

enum class TransportKind : unsigned char { tcp, unix_socket };
inline constexpr std::size_t transport_kind_count = 2;
std::string_view transport_name(TransportKind kind);  // "tcp", "unix"

// What one session has done, for /connz. Output is counted when queued.
struct SessionStats {
  std::uint64_t lines_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t lines_out = 0;
  std::uint64_t bytes_out = 0;
  std::int64_t connected_ms = 0;   // wall clock at accept
  std::int64_t last_line_ms = 0;   // wall clock of the last complete line (0: none yet)
};

class Session {
 public:
  Session(ConnId id, TransportKind transport, std::string peer)
      : id_(id), transport_(transport), peer_(std::move(peer)) {}
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ConnId id() const { return id_; }
  TransportKind transport() const { return transport_; }
  // As the logs show it: "1.2.3.4:5" ("unix" for Unix sockets); behind a
  // proxy, the client the PROXY header named.
  const std::string& peer() const { return peer_; }
  // Open: the hub has not decided to close it; requests are read and run.
  bool open() const { return !closing_; }
  const SessionStats& stats() const { return stats_; }

  // ---- the transport's part -------------------------------------------------

  // Queues a reference to `bytes`. May run inside fan-out: must not free the
  // session or call back into the hub.
  virtual void enqueue(const Bytes& bytes, OutputKind kind) = 0;
  // Unsent bytes: all of them, and the part that is events.
  virtual std::size_t pending_bytes() const = 0;
  virtual std::size_t pending_event_bytes() const = 0;
  // Writes what is queued (one vectored write). Called only from
  // Hub::before_sleep; may call Hub::close (a write failed).
  virtual void flush() = 0;
  // The hub held this session's input (Hub::on_line returned false) and is
  // ready for more: hand over the lines kept meanwhile, then read again.
  virtual void resume_input() = 0;
  // Called once, when the hub decided to close. With flushes_first(reason),
  // write what is queued, then close; otherwise close now. For a fatal
  // reason the `error` event is already queued, except for slow_consumer,
  // whose queue is the problem: `farewell` is then that event, and the
  // queue is cut to what a write has already started, ended at a line (or
  // frame) boundary, with the farewell after it (abort()).
  virtual void close_transport(CloseReason reason, const Bytes& farewell) = 0;
  // A session already closing must stop now, whatever is still queued: a
  // second signal while draining (no `farewell`: closed at once), or its
  // queue passed --max-pending (the farewell follows the cut queue, within
  // --drain-timeout). Nothing is queued for it afterwards.
  virtual void abort(const Bytes& farewell) = 0;

 protected:
  void set_peer(std::string peer) { peer_ = std::move(peer); }

 private:
  friend class Hub;

  ConnId id_;
  TransportKind transport_;
  std::string peer_;
  // The hub's bookkeeping.
  bool closing_ = false;
  bool dirty_ = false;         // on the hub's flush list
  bool replies_only_ = false;  // ... with only replies queued so far (written last)
  bool input_held_ = false;    // on_line said stop; resume_input() when ready
  bool awaiting_ = false;      // a request is being answered outside this turn
  bool cut_ = false;           // abort() was called, or slow_consumer closed it: nothing more is queued
  bool close_when_answered_ = false;  // its drain slot came while awaiting_
  bool eof_when_answered_ = false;    // the client half-closed while awaiting_
  SessionStats stats_;
  bool counted_ = false;       // counts against --max-clients
  bool connected_ = false;     // admitted: the backend knows it and hears of its close
  std::string counted_ip_;     // counted against --max-conns-per-ip under this address
};

}  // namespace parley
