// Agent identity (DESIGN.md §5, as Salt minion keys and Puppet agent certificates):
// an agent presents a key in its TLS handshakes; the first key seen for an agent id is
// bound to it (in the registry row, by the group-commit upsert), and afterwards only
// that key's holder is served as that id. With manual enrollment a new binding waits
// as "pending" until `certmgr agents accept ID`.
//
// AgentIdentities answers "may this connection speak for this id?" from the registry
// (one point read per check-in and per new channel; no cache, so `certmgr agents
// forget|accept|reject` take effect at the agent's next check-in, on every server).
// Ids that never presented a key (agents from before identities) stay keyless: they
// are served without a key until a key binds them — under auto enrollment only, and
// never an id the administrator rejected or forgot (forget means "wait for a new key").
// Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "registry/endpoint_registry.h"

namespace ck::server {

enum class Enrollment { kAuto, kManual };

enum class IdentityVerdict {
  kBound,     // the id is bound to this key and accepted: serve
  kNew,       // no key bound yet: serve, and bind this key (check-ins only)
  kKeyless,   // an accepted id that never had a key, and a connection without one (legacy): serve
  kNewKeyless,  // an unknown id, a connection without a key: serve and record (auto enrollment only)
  kNoKey,     // a key is required here (manual enrollment, or the id waits for a new key): 403
  kOtherKey,  // bound to another key, or to a key while none was presented: 401
  kPending,   // bound to this key, waiting for `certmgr agents accept`: 403
  kRejected,  // bound to this key, rejected by the administrator: 403
};

class AgentIdentities {
 public:
  using Find = std::function<Result<std::optional<registry::Endpoint>>(const std::string&)>;
  AgentIdentities(Find find, Enrollment enrollment) : find_(std::move(find)), enrollment_(enrollment) {}

  // `key`: SHA-256 of the SPKI of the key the connection presented, "" for none.
  // Errors: the registry's, when it cannot be read.
  Result<IdentityVerdict> check(const std::string& agent_id, const std::string& key);
  // The same rule, given the registry row (nullopt: none).
  IdentityVerdict judge(const std::optional<registry::Endpoint>& row, const std::string& key) const;
  // Whether a live channel with this verdict may keep speaking for its id.
  static bool may_speak(IdentityVerdict v) {
    return v == IdentityVerdict::kBound || v == IdentityVerdict::kKeyless || v == IdentityVerdict::kNewKeyless;
  }
  // The enrollment a new binding starts with.
  const char* new_binding_enrollment() const;

 private:
  Find find_;
  Enrollment enrollment_;
};

}  // namespace ck::server
