// systemd's readiness protocol without libsystemd: one datagram per state
// change to the socket $NOTIFY_SOCKET names (a path, or @name for the
// abstract namespace). Sent non-blocking; a failure is logged once and never
// stops the server. Without $NOTIFY_SOCKET every call does nothing.
#pragma once

#include <string>
#include <string_view>

namespace parley {

class SdNotifier {
 public:
  // Reads and forgets $NOTIFY_SOCKET (so children do not inherit it).
  SdNotifier();
  ~SdNotifier();
  SdNotifier(const SdNotifier&) = delete;
  SdNotifier& operator=(const SdNotifier&) = delete;

  bool enabled() const { return fd_ >= 0; }
  // "READY=1", "STOPPING=1", "STATUS=...": newline-separated assignments.
  void notify(std::string_view state);

 private:
  int fd_ = -1;
  std::string address_;  // sun_path as given, '@' turned into the abstract namespace's NUL
  bool failed_ = false;  // a failure was logged
};

}  // namespace parley
