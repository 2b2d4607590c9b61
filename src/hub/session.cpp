#include "parley/hub/session.hpp"

namespace parley {

std::string_view transport_name(TransportKind kind) { return kind == TransportKind::tcp ? "tcp" : "unix"; }

}  // namespace parley
