// systemd's socket activation without libsystemd (sd_listen_fds(3)): the
// listening sockets a service manager passed as descriptors 3, 4, ..., and
// the role LISTEN_FDNAMES gives each (FileDescriptorName= in a socket unit,
// --fdname= of systemd-socket-activate). parse_listen_fds() is the pure part
// (the unit tests drive it); take_listen_fds() reads and forgets the
// environment. Listener::adopt() then takes each socket over.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace parley {

// The first descriptor a service manager passes (SD_LISTEN_FDS_START).
inline constexpr int listen_fds_start = 3;
// More than any real unit passes; bounds what a garbled LISTEN_FDS can ask for.
inline constexpr std::size_t max_listen_fds = 1024;

enum class SocketRole {
  chat,   // named "chat", or "unknown" (libsystemd's name when LISTEN_FDNAMES is unset)
  admin,  // named "admin": the admin HTTP listener
};

struct ActivatedSocket {
  int fd = -1;
  SocketRole role = SocketRole::chat;
  std::string name;  // as LISTEN_FDNAMES gave it; "unknown" when it gave none
};

// The three variables as the environment holds them; nullopt when unset.
struct ListenEnvironment {
  std::optional<std::string> pid;    // LISTEN_PID
  std::optional<std::string> fds;    // LISTEN_FDS
  std::optional<std::string> names;  // LISTEN_FDNAMES
};

struct ListenFds {
  std::vector<ActivatedSocket> sockets;  // in descriptor order; empty: not socket-activated
  // Set when some of the variables are set but are not this process's (a
  // LISTEN_PID of another process, LISTEN_FDS without LISTEN_PID): why they
  // were ignored, for the log.
  std::string ignored;
};

// The sockets `env` passes to the process `self_pid`. Not socket-activated
// (no sockets) when LISTEN_PID or LISTEN_FDS is unset, when LISTEN_PID names
// another process, or when LISTEN_FDS is 0. nullopt with `error` set (a
// sentence naming the variable and the value) when LISTEN_PID or LISTEN_FDS
// is not a number, LISTEN_FDS passes more than max_listen_fds, LISTEN_FDNAMES
// names more or fewer sockets than LISTEN_FDS passes, a name is empty or not
// one parleyd knows, or two sockets are named admin.
std::optional<ListenFds> parse_listen_fds(const ListenEnvironment& env, long self_pid, std::string& error);

// Reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, unsets all three (so no
// child inherits them, whatever they held), parses them for this process,
// and sets FD_CLOEXEC on every socket passed. nullopt with `error` set as
// parse_listen_fds() does, or when a descriptor passed is not open. Logs
// why variables were ignored, if they were.
std::optional<ListenFds> take_listen_fds(std::string& error);

}  // namespace parley
