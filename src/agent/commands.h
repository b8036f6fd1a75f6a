// The commands an agent runs after a message passed every check (issue #5):
//   ping        -> a reply {"type":"reply","jti":…,"command":"ping","agent_id":…,"at":…}
//                  recorded in replies.log and returned for the channel
//   set-policy  -> policy.json := args (atomically)
//   run-scan    -> one line in scan.log
// Anything else is refused (kInvalidArgument) without side effects.
// Thread-safety: as the store.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>

#include "agent/agent_state_store.h"
#include "agent/message_claims.h"

namespace ck::agent {

bool is_known_command(const std::string& command);

// Runs `claims.command`. Returns the reply to send back, if any.
Result<std::optional<boost::json::object>> run_command(const CommandClaims& claims,
                                                       const std::string& agent_id, int64_t now,
                                                       AgentStateStore& store);

}  // namespace ck::agent
