#include "parley/net/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "parley/log/log.hpp"

namespace parley {

SdNotifier::SdNotifier() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  address_ = path;
  ::unsetenv("NOTIFY_SOCKET");
  if (address_.size() >= sizeof(sockaddr_un{}.sun_path) || (address_[0] != '/' && address_[0] != '@')) {
    log::warn("NOTIFY_SOCKET '" + address_ + "' is not a socket path; not notifying systemd");
    return;
  }
  if (address_[0] == '@') address_[0] = '\0';
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) log::warn(std::string("cannot make the NOTIFY_SOCKET socket: ") + std::strerror(errno));
}

SdNotifier::~SdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void SdNotifier::notify(std::string_view state) {
  if (fd_ < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), length) >= 0)
    return;
  if (!failed_) log::warn(std::string("cannot notify systemd: ") + std::strerror(errno));
  failed_ = true;
}

}  // namespace parley
