#include "protocol/commands.h"

#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "protocol/wire.h"

namespace ck::protocol {

PendingCommand new_command(std::string cmd, boost::json::object args, int64_t now) {
  PendingCommand c;
  c.cmd = std::move(cmd);
  c.args = std::move(args);
  c.iat = now;
  c.exp = now + kMessageLifetimeSeconds;
  c.jti = crypto::to_hex(crypto::random_bytes(16));
  return c;
}

Result<std::string> sign_command(const crypto::PrivateKey& key, const PendingCommand& cmd,
                                 const std::string& agent_id, int64_t seq) {
  // Every message names one agent: never "all" (a broadcast is signed per agent).
  if (!valid_agent_id(agent_id))
    return make_error(ErrorKind::kInvalidArgument, "refusing to sign a message for audience \"" + agent_id + "\"");
  CommandPayload p{cmd.cmd, cmd.args, agent_id, cmd.iat, cmd.exp, cmd.jti, seq};
  return crypto::jws_sign(key, to_json(p));
}

}  // namespace ck::protocol
