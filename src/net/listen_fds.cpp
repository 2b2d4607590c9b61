#include "parley/net/listen_fds.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <type_traits>

#include "parley/log/log.hpp"

namespace parley {
namespace {

// A whole decimal number and nothing else: no sign, no spaces.
template <typename Number>
std::optional<Number> whole_number(const std::string& text) {
  Number n{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  if constexpr (std::is_signed_v<Number>)
    if (n < 0) return std::nullopt;
  return n;
}

// LISTEN_FDNAMES split at every ':', empty entries kept (as libsystemd
// splits it); an empty value names nothing.
std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  if (names.empty()) return out;
  std::size_t at = 0;
  for (;;) {
    const std::size_t colon = names.find(':', at);
    out.push_back(names.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
    if (colon == std::string::npos) return out;
    at = colon + 1;
  }
}

std::string socket_text(int fd) { return "socket " + std::to_string(fd); }

// The role a name picks; nullopt with `error` set for a name parleyd does not know.
std::optional<SocketRole> role_of(const std::string& name, int fd, std::string& error) {
  if (name == "chat" || name == "unknown") return SocketRole::chat;
  if (name == "admin") return SocketRole::admin;
  if (name.empty()) {
    error = "LISTEN_FDNAMES gives " + socket_text(fd) + " an empty name; parleyd takes chat or admin";
    return std::nullopt;
  }
  error = "LISTEN_FDNAMES names " + socket_text(fd) + " '" + name +
          "'; parleyd takes chat (or unknown) for a chat listener and admin for the admin listener";
  // systemd names a socket after its unit unless FileDescriptorName= says otherwise.
  if (name.ends_with(".socket")) error += " (set FileDescriptorName= in " + name + ")";
  return std::nullopt;
}

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

std::optional<ListenFds> parse_listen_fds(const ListenEnvironment& env, long self_pid, std::string& error) {
  ListenFds out;
  if (!env.pid) {
    if (env.fds || env.names) out.ignored = "LISTEN_FDS or LISTEN_FDNAMES is set without LISTEN_PID";
    return out;
  }
  const std::optional<long> pid = whole_number<long>(*env.pid);
  if (!pid || *pid == 0) {
    error = "LISTEN_PID='" + *env.pid + "' is not a process id";
    return std::nullopt;
  }
  if (*pid != self_pid) {
    out.ignored = "LISTEN_PID=" + *env.pid + " is another process (this is " + std::to_string(self_pid) + ")";
    return out;
  }
  if (!env.fds) {
    out.ignored = "LISTEN_PID is set without LISTEN_FDS";
    return out;
  }
  const std::optional<std::size_t> count = whole_number<std::size_t>(*env.fds);
  if (!count) {
    error = "LISTEN_FDS='" + *env.fds + "' is not a number of sockets";
    return std::nullopt;
  }
  if (*count > max_listen_fds) {
    error = "LISTEN_FDS=" + *env.fds + " passes more sockets than parleyd takes (" +
            std::to_string(max_listen_fds) + ")";
    return std::nullopt;
  }
  if (*count == 0) return out;
  std::vector<std::string> names = env.names ? split_names(*env.names) : std::vector<std::string>(*count, "unknown");
  if (names.size() != *count) {
    // As sd_listen_fds_with_names(3) refuses it: which name is whose would be a guess.
    error = "LISTEN_FDNAMES='" + *env.names + "' names " + std::to_string(names.size()) +
            " sockets but LISTEN_FDS passes " + *env.fds;
    return std::nullopt;
  }
  int admin_fd = -1;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const int fd = listen_fds_start + static_cast<int>(i);
    const std::optional<SocketRole> role = role_of(names[i], fd, error);
    if (!role) return std::nullopt;
    if (*role == SocketRole::admin) {
      if (admin_fd >= 0) {
        error = "LISTEN_FDNAMES names both " + socket_text(admin_fd) + " and " + socket_text(fd) +
                " admin; parleyd has one admin listener";
        return std::nullopt;
      }
      admin_fd = fd;
    }
    out.sockets.push_back({fd, *role, std::move(names[i])});
  }
  return out;
}

std::optional<ListenFds> take_listen_fds(std::string& error) {
  const ListenEnvironment env{environment("LISTEN_PID"), environment("LISTEN_FDS"), environment("LISTEN_FDNAMES")};
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  std::optional<ListenFds> fds = parse_listen_fds(env, static_cast<long>(::getpid()), error);
  if (!fds) return std::nullopt;
  if (!fds->ignored.empty()) log::info("socket activation: " + fds->ignored + "; ignoring it");
  for (const ActivatedSocket& socket : fds->sockets) {
    const int flags = ::fcntl(socket.fd, F_GETFD);
    if (flags < 0 || ::fcntl(socket.fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
      error = "LISTEN_FDS passes socket " + std::to_string(socket.fd) + ", which is not an open descriptor";
      return std::nullopt;
    }
  }
  return fds;
}

}  // namespace parley
