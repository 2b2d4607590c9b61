#include "parley/transport/ws/frame_reader.hpp"

#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>

#include "parley/transport/ws/frame_header.hpp"

namespace parley::ws {
namespace {

// wslay's recv callback: copies what it asks for from the pool's input.
// Returning 0 makes wslay_frame_recv answer WSLAY_ERR_WANT_READ.
ssize_t take_input(std::uint8_t* buf, std::size_t len, int, void* user_data) {
  std::string_view& input = static_cast<FramePool*>(user_data)->input();
  const std::size_t n = std::min(len, input.size());
  std::memcpy(buf, input.data(), n);
  input.remove_prefix(n);
  return static_cast<ssize_t>(n);
}

// The server never sends through a frame context.
ssize_t refuse_send(const std::uint8_t*, std::size_t, int, void*) { return WSLAY_ERR_INVALID_CALLBACK; }
int no_mask(std::uint8_t*, std::size_t, void*) { return -1; }

const wslay_frame_callbacks callbacks = {refuse_send, take_input, no_mask};

std::uint64_t header_size(const wslay_frame_iocb& iocb) {
  return frame_header_size(iocb.payload_length) + (iocb.mask ? 4 : 0);
}

}  // namespace

FramePool::~FramePool() {
  if (spare_) wslay_frame_context_free(spare_);
}

wslay_frame_context* FramePool::take() {
  wslay_frame_context* context = spare_;
  spare_ = nullptr;
  if (!context && wslay_frame_context_init(&context, &callbacks, this) != 0) return nullptr;
  return context;
}

void FramePool::give(wslay_frame_context* context) {
  if (spare_)
    wslay_frame_context_free(context);
  else
    spare_ = context;
}

FrameReader::~FrameReader() {
  if (context_) wslay_frame_context_free(context_);  // mid-frame: its state is no use to anyone
}

// A context at rest holds no byte and no state of anyone's.
void FrameReader::release() {
  pool_.give(context_);
  context_ = nullptr;
  handed_ = framed_ = 0;
}

FrameReader::Status FrameReader::feed(std::string_view& data, FrameSink& sink) {
  if (!context_) {
    if (data.empty()) return Status::drained;
    if (!(context_ = pool_.take())) return Status::no_memory;
  }
  Status status = Status::drained;
  for (;;) {
    pool_.input() = data;
    wslay_frame_iocb iocb{};
    const ssize_t r = wslay_frame_recv(context_, &iocb);
    handed_ += data.size() - pool_.input().size();
    data = pool_.input();
    pool_.input() = {};
    if (r == WSLAY_ERR_WANT_READ) break;
    if (r < 0) return Status::protocol_error;
    FrameChunk chunk;
    chunk.opcode = iocb.opcode;
    chunk.rsv = iocb.rsv;
    chunk.fin = iocb.fin != 0;
    chunk.masked = iocb.mask != 0;
    chunk.payload_length = iocb.payload_length;
    chunk.data = {reinterpret_cast<const char*>(iocb.data), iocb.data_length};
    chunk.first = !in_frame_;
    if (chunk.first) frame_read_ = 0;
    frame_read_ += iocb.data_length;
    chunk.last = frame_read_ == iocb.payload_length;
    in_frame_ = !chunk.last;
    if (chunk.last) framed_ += header_size(iocb) + iocb.payload_length;
    if (!sink.on_chunk(chunk)) {
      status = Status::stopped;
      break;
    }
  }
  if (at_rest()) release();
  return status;
}

}  // namespace parley::ws
