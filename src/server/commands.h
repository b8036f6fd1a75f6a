// Signing server-initiated commands (DESIGN.md §4): the JWS payload is
// {typ:"command", cmd, args, aud, iat, exp, jti, seq}, signed with the key the
// rotation plan chose for the agent. `seq` is the outbox message's seq, the same for
// every agent and every server that signs it. Pure; thread-safe.
#pragma once

#include <string>

#include "common/result.h"
#include "crypto/key.h"
#include "outbox/outbox.h"

namespace ck::server {

// The JWS compact of `m` for `agent_id` ("aud"). A broadcast is signed once per agent,
// each with that agent's id. Errors: kInvalidArgument when `agent_id` is not a valid
// agent id (e.g. "all") or the message is not addressed to it, kCrypto.
Result<std::string> sign_message(const crypto::PrivateKey& key, const outbox::Message& m,
                                 const std::string& agent_id);

}  // namespace ck::server
