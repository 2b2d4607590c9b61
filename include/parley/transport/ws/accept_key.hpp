// Sec-WebSocket-Accept (RFC 6455 4.2.2): base64 of the SHA-1 of the
// client's key followed by the protocol's GUID. SHA-1 and base64 are
// nettle's.
#pragma once

#include <string>
#include <string_view>

namespace parley::ws {

std::string accept_key(std::string_view client_key);

// Whether `key` is what a client must send: base64 of 16 bytes (24
// characters, the last two "==").
bool valid_client_key(std::string_view key);

}  // namespace parley::ws
