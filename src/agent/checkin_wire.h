// What the agent puts in its check-ins besides its state: this machine's host facts
// and its version. The check-in and channel messages themselves have one definition,
// shared with the server: protocol/wire.h. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace ck::agent {

inline constexpr size_t kMaxCheckinResponseBytes = 8u << 20;
inline constexpr const char* kAgentVersion = "0.1.0";

struct HostInfo {
  std::string hostname;
  std::string ip;
  std::string domain;
  std::string os;
};

// This machine's hostname, domain and OS (ip is left empty: the caller knows the socket).
HostInfo local_host_info();

}  // namespace ck::agent
