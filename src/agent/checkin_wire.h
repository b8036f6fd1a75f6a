// The agent's side of POST /v1/checkin (DESIGN.md §5), as plain structs:
//   request  {agent_id, hostname, ip, domain, os, agent_version, pinned_fingerprint, last_seq}
//   response {"current_fingerprint": FP, "rotations": [{"by_old","by_new"}…], "messages": [JWS…]}
// Parsing is strict about types and bounded in size. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/rotation_statement.h"

namespace ck::agent {

inline constexpr size_t kMaxCheckinResponseBytes = 8u << 20;
inline constexpr size_t kMaxRotationsPerResponse = 1024;
inline constexpr size_t kMaxMessagesPerResponse = 4096;
inline constexpr const char* kAgentVersion = "0.1.0";

struct HostInfo {
  std::string hostname;
  std::string ip;
  std::string domain;
  std::string os;
};

// This machine's hostname, domain and OS (ip is left empty: the caller knows the socket).
HostInfo local_host_info();

struct CheckinRequest {
  std::string agent_id;
  HostInfo host;
  std::string agent_version = kAgentVersion;
  std::string pinned_fingerprint;
  int64_t last_seq = 0;
};

std::string serialize_checkin_request(const CheckinRequest& request);

struct CheckinResponse {
  std::string current_fingerprint;
  std::vector<crypto::SignedRotation> rotations;  // oldest link first
  std::vector<std::string> messages;              // JWS compact
};

// Errors: kInvalidArgument for anything that is not the documented shape.
Result<CheckinResponse> parse_checkin_response(std::string_view body);

}  // namespace ck::agent
