#include "parley/hub/admission.hpp"

namespace parley {

std::optional<Error> Admission::admit() {
  if (clients_ >= max_clients_)
    return Error{ErrorCode::server_full, "the server has " + std::to_string(max_clients_) + " clients already"};
  ++clients_;
  return std::nullopt;
}

std::optional<Error> Admission::admit_ip(const std::string& ip) {
  if (per_ip_ == 0 || ip.empty()) return std::nullopt;
  auto it = per_address_.find(ip);
  if (it != per_address_.end() && it->second >= per_ip_)
    return Error{ErrorCode::server_full,
                 "too many connections from " + ip + " (at most " + std::to_string(per_ip_) + ")"};
  if (it == per_address_.end()) it = per_address_.emplace(ip, 0).first;
  ++it->second;
  return std::nullopt;
}

void Admission::leave_ip(const std::string& ip) {
  auto it = per_address_.find(ip);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t Admission::connections_from(const std::string& ip) const {
  auto it = per_address_.find(ip);
  return it == per_address_.end() ? 0 : it->second;
}

}  // namespace parley
