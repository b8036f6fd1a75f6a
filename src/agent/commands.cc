#include "agent/commands.h"

namespace ck::agent {
namespace json = boost::json;

bool is_known_command(const std::string& c) {
  return c == "ping" || c == "set-policy" || c == "run-scan";
}

Result<std::optional<json::object>> run_command(const CommandClaims& claims,
                                                const std::string& agent_id, int64_t now,
                                                AgentStateStore& store) {
  using Reply = std::optional<json::object>;
  if (claims.command == "ping") {
    json::object reply{{"type", "reply"},    {"jti", claims.jti},   {"seq", claims.seq},
                       {"command", "ping"},  {"agent_id", agent_id}, {"at", now},
                       {"result", "pong"}};
    CK_RETURN_IF_ERROR(store.append_reply(json::serialize(reply)));
    return Reply(std::move(reply));
  }
  if (claims.command == "set-policy") {
    CK_RETURN_IF_ERROR(store.write_policy(json::serialize(claims.args) + "\n"));
    return Reply();
  }
  if (claims.command == "run-scan") {
    json::object line{{"at", now}, {"jti", claims.jti}, {"seq", claims.seq}, {"args", claims.args}};
    CK_RETURN_IF_ERROR(store.append_scan_log(json::serialize(line)));
    return Reply();
  }
  return make_error(ErrorKind::kInvalidArgument, "unknown command \"" + claims.command + "\"");
}

}  // namespace ck::agent
