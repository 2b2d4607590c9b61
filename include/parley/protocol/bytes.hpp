// One encoded line (or several), shared by every outbox that sends it.
#pragma once

#include <memory>
#include <string>

namespace parley {

// Immutable once built; each recipient's outbox holds a reference, and the
// last one to finish writing it frees it.
using Bytes = std::shared_ptr<const std::string>;

}  // namespace parley
