#include "server/commands.h"

#include "crypto/jws.h"
#include "protocol/wire.h"

namespace ck::server {

Result<std::string> sign_message(const crypto::PrivateKey& key, const outbox::Message& m,
                                 const std::string& agent_id) {
  // Every message names one agent: never "all" (a broadcast is signed per agent).
  if (!protocol::valid_agent_id(agent_id) || !m.for_agent(agent_id))
    return make_error(ErrorKind::kInvalidArgument, "refusing to sign a message for audience \"" + agent_id + "\"");
  protocol::CommandPayload p{m.command, m.args, agent_id, m.iat, m.exp, m.jti, m.seq};
  return crypto::jws_sign(key, protocol::to_json(p));
}

}  // namespace ck::server
