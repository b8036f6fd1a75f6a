#include "agent/message_claims.h"

#include <algorithm>

namespace ck::agent {
namespace json = boost::json;

namespace {
std::optional<int64_t> as_int(const json::value* v) {
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64() && v->as_uint64() <= INT64_MAX) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

// a > b + slack for slack >= 0, without signed overflow: exp, iat and now may be anything
// an int64 holds.
bool exceeds(int64_t a, int64_t b, int64_t slack) {
  if (a <= b) return false;
  return static_cast<uint64_t>(a) - static_cast<uint64_t>(b) > static_cast<uint64_t>(slack);
}

bool audience_matches(const json::value* aud, const std::string& agent_id) {
  if (!aud) return false;
  // Only our own id: a message addressed to "all" names no agent and could be replayed
  // to every agent of the fleet; the server signs broadcasts per agent.
  if (aud->is_string()) return aud->as_string() == agent_id;
  if (aud->is_array()) {
    const auto& a = aud->as_array();
    return std::any_of(a.begin(), a.end(), [&](const json::value& v) {
      return v.is_string() && v.as_string() == agent_id;
    });
  }
  return false;
}
}  // namespace

Result<CommandClaims> check_command_claims(const json::object& p, const AgentState& state,
                                           int64_t now, int64_t skew) {
  auto reject = [](const std::string& why) {
    return make_error(ErrorKind::kCrypto, "message rejected: " + why);
  };
  const json::value* typ = p.if_contains("typ");
  if (!typ || !typ->is_string() || typ->as_string() != "command") return reject("typ is not \"command\"");
  if (!audience_matches(p.if_contains("aud"), state.agent_id)) return reject("addressed to another agent");
  auto exp = as_int(p.if_contains("exp"));
  auto iat = as_int(p.if_contains("iat"));
  auto seq = as_int(p.if_contains("seq"));
  if (!exp || !iat || !seq) return reject("missing exp, iat or seq");
  skew = std::max<int64_t>(skew, 0);
  if (exceeds(now, *exp, skew)) return reject("expired");
  if (exceeds(*iat, now, skew)) return reject("issued in the future");
  if (*iat > *exp) return reject("iat after exp");
  // Bounds what a signed message is worth after a state reset (seq and jti forgotten).
  if (exceeds(*exp, *iat, kMaxMessageLifetimeSeconds)) return reject("lifetime (exp - iat) longer than 24 h");
  const json::value* jti = p.if_contains("jti");
  if (!jti || !jti->is_string() || jti->as_string().empty() || jti->as_string().size() > kMaxJtiLength)
    return reject("missing or bad jti");
  std::string jti_s(jti->as_string());
  if (std::find(state.seen_jti.begin(), state.seen_jti.end(), jti_s) != state.seen_jti.end())
    return reject("replayed jti");
  if (*seq <= state.last_seq)
    return reject("replayed or reordered seq " + std::to_string(*seq) + " (last " +
                  std::to_string(state.last_seq) + ")");
  // "cmd" is the wire name (protocol/wire.h); "command" is accepted as an alias.
  const json::value* command = p.if_contains("cmd");
  if (!command) command = p.if_contains("command");
  if (!command || !command->is_string() || command->as_string().empty()) return reject("missing command");
  CommandClaims c;
  c.command = std::string(command->as_string());
  if (const json::value* args = p.if_contains("args"); args && !args->is_null()) {
    if (!args->is_object()) return reject("args is not an object");
    c.args = args->as_object();
  }
  c.jti = std::move(jti_s);
  c.seq = *seq;
  c.iat = *iat;
  c.exp = *exp;
  return c;
}

}  // namespace ck::agent
