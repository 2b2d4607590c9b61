// Descriptors bound the number of clients: parleyd raises its soft
// RLIMIT_NOFILE to the hard limit at start and logs what it got.
#pragma once

namespace parley {

void raise_descriptor_limit();

}  // namespace parley
