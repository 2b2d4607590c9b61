// One read buffer for every stream on the loop: each read is consumed before
// the next one starts (one thread), so an idle connection owns no read memory.
#pragma once

#include <uv.h>

#include <memory>

namespace parley {

class ReadBuffer {
 public:
  static constexpr unsigned size = 65536;
  ReadBuffer() : bytes_(new char[size]) {}
  uv_buf_t get() { return uv_buf_init(bytes_.get(), size); }

 private:
  std::unique_ptr<char[]> bytes_;
};

}  // namespace parley
