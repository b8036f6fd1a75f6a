#include "server/agent_identity.h"

namespace ck::server {

Result<IdentityVerdict> AgentIdentities::check(const std::string& agent_id, const std::string& key) {
  CK_ASSIGN_OR_RETURN(std::optional<registry::Endpoint> row, find_(agent_id));
  return judge(row, key);
}

IdentityVerdict AgentIdentities::judge(const std::optional<registry::Endpoint>& row, const std::string& key) const {
  const bool manual = enrollment_ == Enrollment::kManual;
  if (!row) {
    if (!key.empty()) return IdentityVerdict::kNew;
    return manual ? IdentityVerdict::kNoKey : IdentityVerdict::kNewKeyless;
  }
  // The administrator's word first, whatever key is presented.
  if (row->enrollment == registry::kEnrollmentRejected) return IdentityVerdict::kRejected;
  if (row->key_fingerprint.empty()) {
    if (!key.empty()) return IdentityVerdict::kNew;
    // Forgotten ids wait for a new key; keyless service is for accepted legacy ids.
    return !manual && row->enrollment == registry::kEnrollmentAccepted ? IdentityVerdict::kKeyless
                                                                       : IdentityVerdict::kNoKey;
  }
  if (row->key_fingerprint != key) return IdentityVerdict::kOtherKey;
  if (row->enrollment == registry::kEnrollmentPending) return IdentityVerdict::kPending;
  return IdentityVerdict::kBound;
}

const char* AgentIdentities::new_binding_enrollment() const {
  return enrollment_ == Enrollment::kManual ? registry::kEnrollmentPending : registry::kEnrollmentAccepted;
}

}  // namespace ck::server
