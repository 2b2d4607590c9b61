// What a connection sends before it is a session, on arbitrary bytes: the
// PROXY header (v1 and v2) a balancer puts first, and the address blocks
// (--trusted-proxy, X-Forwarded-For) an address is checked against. The
// first byte picks which. Checked, beyond not crashing:
//  - a header is complete only within the bytes seen and max_proxy_header,
//    and reads the same from exactly its own bytes;
//  - every shorter part of a complete header is incomplete (a header split
//    over several reads is waited for, never refused);
//  - the parser never waits past max_proxy_header, and a refusal stays one
//    however many bytes follow;
//  - an address block reads back from its own text as the same block.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parley/protocol/proxy_header.hpp"
#include "parley/socket/cidr.hpp"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool same(const parley::ProxyHeader& a, const parley::ProxyHeader& b) {
  return a.status == b.status && a.length == b.length && a.source == b.source && a.local == b.local;
}

void check_header(std::string_view data) {
  using Status = parley::ProxyHeader::Status;
  const parley::ProxyHeader header = parley::parse_proxy_header(data);
  if (header.status == Status::incomplete) require(data.size() < parley::max_proxy_header);
  if (header.status == Status::complete) {
    require(header.length > 0 && header.length <= data.size() && header.length <= parley::max_proxy_header);
    require(same(parley::parse_proxy_header(data.substr(0, header.length)), header));
    for (std::size_t part = 0; part < header.length; ++part)
      require(parley::parse_proxy_header(data.substr(0, part)).status == Status::incomplete);
  }
  if (parley::parse_proxy_header(data.substr(0, data.size() / 2)).status == Status::bad)
    require(header.status == Status::bad);
}

void check_cidr(std::string_view text) {
  std::string error;
  const auto block = parley::parse_cidr(text, error);
  if (!block) {
    require(!error.empty());
    return;
  }
  require(block->prefix <= (block->v6 ? 128u : 32u));
  const auto again = parley::parse_cidr(block->text(), error);
  require(again && again->v6 == block->v6 && again->prefix == block->prefix && again->bytes == block->bytes);
  block->contains(text);  // any text as an address: no crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    check_cidr(input);
  else
    check_header(input);
  return 0;
}
