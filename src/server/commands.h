// Making and signing server-initiated commands (DESIGN.md §4): the JWS payload is
// {typ:"command", cmd, args, aud, iat, exp, jti, seq}, signed with the key the
// rotation plan chose for the agent. Pure apart from random jti; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <string>

#include "common/result.h"
#include "crypto/key.h"
#include "protocol/message_queue.h"

namespace ck::protocol {

// A new command issued at `now`, valid kMessageLifetimeSeconds, with a random
// 128-bit jti (32 hex digits).
PendingCommand new_command(std::string cmd, boost::json::object args, int64_t now);

// The JWS compact for `agent_id` ("aud") with sequence number `seq`. A broadcast is
// signed once per agent, each with that agent's id and its own seq. Errors:
// kInvalidArgument when `agent_id` is not a valid agent id (e.g. "all"), kCrypto.
Result<std::string> sign_command(const crypto::PrivateKey& key, const PendingCommand& cmd,
                                 const std::string& agent_id, int64_t seq);

}  // namespace ck::protocol
