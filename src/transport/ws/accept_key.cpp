#include "parley/transport/ws/accept_key.hpp"

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include <algorithm>
#include <cctype>

namespace parley::ws {
namespace {

constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool base64_char(unsigned char c) { return std::isalnum(c) || c == '+' || c == '/'; }

}  // namespace

std::string accept_key(std::string_view client_key) {
  sha1_ctx sha;
  sha1_init(&sha);
  sha1_update(&sha, client_key.size(), reinterpret_cast<const std::uint8_t*>(client_key.data()));
  sha1_update(&sha, guid.size(), reinterpret_cast<const std::uint8_t*>(guid.data()));
  std::uint8_t digest[SHA1_DIGEST_SIZE];
  sha1_digest(&sha, sizeof digest, digest);
  std::string out(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE), '\0');
  base64_encode_raw(out.data(), sizeof digest, digest);
  return out;
}

bool valid_client_key(std::string_view key) {
  return key.size() == 24 && key.substr(22) == "==" &&
         std::all_of(key.begin(), key.begin() + 22, [](char c) { return base64_char(static_cast<unsigned char>(c)); });
}

}  // namespace parley::ws
