// Checks the claims of a verified server-initiated message (DESIGN.md §4):
// typ == "command", cmd (alias "command") names a command, aud names this agent (its id, or an array containing its id; never "all"),
// exp not past, iat not in the future and not after exp, exp - iat at most 24 h, jti fresh, seq newer.
// Pure function of its inputs; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>

#include "agent/agent_state.h"
#include "common/result.h"

namespace ck::agent {

inline constexpr size_t kMaxJtiLength = 128;
// The server signs for protocol::kMessageLifetimeSeconds (1 h); anything longer-lived is refused.
inline constexpr int64_t kMaxMessageLifetimeSeconds = 24 * 3600;

struct CommandClaims {
  std::string command;
  boost::json::object args;
  std::string jti;
  int64_t seq = 0;
  int64_t iat = 0;
  int64_t exp = 0;
};

// Errors: kCrypto (never accept) with the reason.
Result<CommandClaims> check_command_claims(const boost::json::object& payload,
                                           const AgentState& state, int64_t now,
                                           int64_t max_skew_seconds);

}  // namespace ck::agent
