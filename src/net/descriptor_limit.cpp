#include "parley/net/descriptor_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "parley/log/log.hpp"

namespace parley {

void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= limit.rlim_max) {
    log::info("descriptors: at most " + std::to_string(limit.rlim_cur));
    return;
  }
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0)
    log::info("descriptors: soft limit raised from " + std::to_string(before) + " to " + std::to_string(limit.rlim_cur));
  else
    log::warn("descriptors: cannot raise the soft limit " + std::to_string(before) + ": " + std::strerror(errno));
}

}  // namespace parley
